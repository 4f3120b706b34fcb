"""``python -m codecbench.cli``: the same command line as the ``codecbench`` script."""

import sys

from codecbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
