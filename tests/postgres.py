"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, started on a free port.

Uses Debian's ``postgresql`` binaries (``/usr/lib/postgresql/<version>/bin``). initdb refuses to
run as root, so under root the cluster belongs to the ``postgres`` system user and every server
command runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser import free_port

SERVER_USER = "postgres"
DATABASE_USER = "codecbench"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL bin folder holding initdb, or ``None``."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def skip_reason() -> str | None:
    """Why a PostgreSQL server cannot be started here, or ``None`` when it can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries are not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} system user to own the cluster"
    return None


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """Start a fresh PostgreSQL server; yield a SQLAlchemy URL of an empty database on it."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, skip_reason()
    root = Path(tempfile.mkdtemp(prefix="codecbench-pg-"))
    data_dir = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", SERVER_USER, "--"]
    port = free_port()

    def run(*command: str) -> None:
        completed = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")

    run(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", DATABASE_USER, "-A", "trust",
        "--no-sync", "-E", "UTF8", "--locale=C")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", DATABASE_USER, "codecbench_test")
        yield f"postgresql+psycopg://{DATABASE_USER}@127.0.0.1:{port}/codecbench_test"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
