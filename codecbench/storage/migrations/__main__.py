"""Developer commands for schema revisions: ``python -m codecbench.storage.migrations --help``.

Users upgrade with ``codecbench db upgrade``; this is for writing a new revision.
"""

from __future__ import annotations

import argparse

from codecbench.storage.migrations import head_revision, known_revisions, new_revision


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m codecbench.storage.migrations")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write a new revision for the changes made to the models")
    revision.add_argument("message", help='what changed, e.g. "index mushra ratings by creation time"')
    revision.add_argument("--db", dest="url", default=None, metavar="URL",
                          help="compare against this database (at head) instead of a temporary SQLite file")
    revision.add_argument("--empty", action="store_true", help="write an empty revision (no autogenerate)")
    commands.add_parser("history", help="list the revisions, oldest first")
    arguments = parser.parse_args(argv)
    if arguments.command == "revision":
        path = new_revision(arguments.message, url=arguments.url, autogenerate=not arguments.empty)
        print(f"wrote {path}; review it, write its docstring (why, and what happens to stored rows), and test it")
    else:
        for name in known_revisions():
            print(name + ("  (head)" if name == head_revision() else ""))


if __name__ == "__main__":
    main()
