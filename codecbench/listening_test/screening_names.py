"""The names of the post-screening rules, apart from the rules themselves.

The command line offers them as choices (``--screening``); importing
:mod:`codecbench.listening_test.screening` for that would load pandas on every
``codecbench --help``. Each rule class in ``screening`` takes its name from here.
"""

from __future__ import annotations

NO_SCREENING = "none"
BS1534 = "bs1534"
BS1534_LOW_ANCHOR = "bs1534-low-anchor"
ENCODEC = "encodec"

#: Every rule name, in the order the help lists them.
SCREENING_RULE_NAMES: tuple[str, ...] = (NO_SCREENING, BS1534, BS1534_LOW_ANCHOR, ENCODEC)
