"""Shared fixtures: every test makes its own audio."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile

from codecbench.synthetic import speech_like


def write_with_pyav(path: Path, samples: np.ndarray, sample_rate_hz: int, codec: str, container: str) -> Path:
    """Encode mono float audio into a container soundfile cannot write (m4a, for instance)."""
    import av

    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=sample_rate_hz)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate_hz
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return path


@pytest.fixture(scope="session")
def speech_16k() -> np.ndarray:
    """Four seconds of speech-like audio at 16 kHz."""
    return speech_like(4.0, 16_000, seed=7)


@pytest.fixture
def speech_wav(tmp_path: Path, speech_16k: np.ndarray) -> Path:
    path = tmp_path / "speech.wav"
    soundfile.write(path, speech_16k, 16_000, subtype="PCM_16")
    return path


# --------------------------------------------------------------------------------------
# Databases: storage tests run on SQLite and on a real PostgreSQL server started here.

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server_url():
    """URL of a throwaway PostgreSQL server's first database (one server per test run)."""
    from tests.postgres import skip_reason, temporary_postgres

    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with temporary_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database: a SQLite file, or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'codecbench.sqlite3'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(request.getfixturevalue("postgres_server_url"))
    name = f"test_{next(_database_numbers)}"
    admin = f"host={server.host} port={server.port} user={server.username} dbname={server.database}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database(database_url):
    """An open :class:`codecbench.storage.Database` with the schema created."""
    from codecbench.storage import open_database

    db = open_database(database_url)
    yield db
    db.close()


