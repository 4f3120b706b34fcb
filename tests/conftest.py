"""Shared fixtures: every test makes its own audio."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from codecbench.synthetic import speech_like


@pytest.fixture(scope="session", autouse=True)
def _private_codecbench_home(tmp_path_factory) -> Iterator[Path]:
    """No test reads or writes the user's codecbench home: its database (an app launched
    without a database URL uses the home's SQLite file), models and caches. Tests that need a
    home of their own still set one; commands run in subprocesses inherit this one."""
    home = tmp_path_factory.mktemp("codecbench-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CODECBENCH_HOME", str(home))
        patch.delenv("CODECBENCH_DB", raising=False)
        yield home


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


# ------------------------------------------------------------------------- neural codecs


@pytest.fixture(scope="session")
def tiny_models_home(tmp_path_factory) -> Path:
    """A codecbench home whose Hub cache holds a tiny random checkpoint for every Hub codec.

    Each has its real model's token layout (hop, codebooks), in its upstream file format, laid
    out as ``huggingface_hub`` caches it, at the revision the registry pins.
    """
    from codecbench.codecs import dac, encodec, facodec, funcodec
    from codecbench.codecs.freqcodec.codec import FREQCODEC_MODELS
    from tests.checkpoints import (
        funcodec_config,
        install_in_hub_cache,
        save_funcodec_model,
        save_tiny_dac,
        save_tiny_encodec_24khz,
    )
    from tests.facodec_fixtures import write_tiny_facodec
    from tests.freqcodec_checkpoints import write_funcodec_model_dir

    home = tmp_path_factory.mktemp("codecbench-home")
    sources = tmp_path_factory.mktemp("checkpoint-sources")
    hub = home / "hub"
    checkpoint = encodec.ENCODEC_24KHZ_WEIGHTS.hub
    install_in_hub_cache(hub, checkpoint.repo_id, checkpoint.revision, save_tiny_encodec_24khz(sources / "encodec"))
    for model in funcodec.FUNCODEC_MODELS:
        ratios = (8, 5, 4, 2, 2) if model.frame_rate_hz == 25 else (8, 5, 4, 2)
        source = save_funcodec_model(sources / model.name, funcodec_config(ratios=ratios))
        install_in_hub_cache(hub, model.hub.repo_id, model.hub.revision, source)
    for model in FREQCODEC_MODELS:  # the tiny FreqCodec recipe: the real ds320 token layout, 4 filters
        install_in_hub_cache(hub, model.hub.repo_id, model.hub.revision, write_funcodec_model_dir(sources / model.name))
    for variant in dac.DAC_VARIANTS:
        ratios = [2, 4, 5, 8] if variant.hop_length == 320 else [2, 4, 8, 8]
        codebooks = max(point.num_codebooks for point in variant.spec.operating_points)
        source = save_tiny_dac(sources / variant.name, ratios, codebooks)
        install_in_hub_cache(hub, variant.hub.repo_id, variant.hub.revision, source)
    write_tiny_facodec(sources / "facodec")
    install_in_hub_cache(hub, facodec.FACODEC_WEIGHTS.hub.repo_id, facodec.FACODEC_WEIGHTS.hub.revision, sources / "facodec")
    return home


@pytest.fixture
def codecbench_home(tmp_path, monkeypatch) -> Iterator[Path]:
    """An empty codecbench home for this test, and no codec loaded from elsewhere."""
    from codecbench.codecs.registry import load_codec
    from codecbench.paths import HOME_ENV

    home = tmp_path / "codecbench-home"
    monkeypatch.setenv(HOME_ENV, str(home))
    load_codec.cache_clear()
    yield home
    load_codec.cache_clear()


@pytest.fixture
def tiny_models(tiny_models_home, monkeypatch) -> Iterator[Path]:
    """Point codecbench at :func:`tiny_models_home` for this test.

    The ``facodec`` entry builds the published architecture for its Hub snapshot, whatever
    the snapshot holds; here it builds the tiny one the cached checkpoints were saved from.
    """
    from codecbench.codecs.registry import load_codec
    from codecbench.paths import HOME_ENV
    from tests.facodec_fixtures import use_tiny_facodec_for_the_hub_entry

    monkeypatch.setenv(HOME_ENV, str(tiny_models_home))
    use_tiny_facodec_for_the_hub_entry(monkeypatch)
    load_codec.cache_clear()
    yield tiny_models_home
    load_codec.cache_clear()
