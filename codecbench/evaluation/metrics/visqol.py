"""ViSQOL (Google's v3.3, through the ``visqol-python`` port) under four named protocols.

The same audio scores very differently depending on the mode, the rate it runs at and the
similarity-to-quality mapping, and published tables use different combinations, so every
score names its protocol. Each protocol uses the library the way Google's command-line tool
would be used on files prepared for it:

- ``speech``: speech mode on 16 kHz signals with the deep-lattice mapping
  (``--use_speech_mode``; the lattice is the C++ default since v3.1);
- ``speech-exp``: speech mode on 16 kHz signals with the exponential mapping scaled so that a
  perfect match scores 5.0 (``--use_speech_mode --use_lattice_model=false``);
- ``audio``: audio mode on 48 kHz signals with the SVR mapping (the tool's default mode);
- ``audio-native``: audio mode on the signals at the reference's own rate, as FunCodec's
  published tables were made on 16 kHz files.

ViSQOL itself never resamples: signals are brought to the protocol's rate by
:meth:`PreparedPair.at_rate` (soxr, the same path for both). ViSQOL aligns the degraded
signal itself, so it receives it as it is, not codecbench's aligned copy.

Two engines compute the same numbers. By default codecbench's own
(:mod:`codecbench.evaluation.metrics.visqol_fast`) does: visqol-python 3.8's algorithm with the
reference's work done once per reference and the hot loops vectorised, about 4 times faster
on a single pair and 6 times per condition when one reference is scored against many; its
scores equal visqol-python's (the tests hold it to that; docs/visqol-engine.md).
``CODECBENCH_VISQOL_ENGINE=visqol-python`` runs visqol-python itself instead. Each score's
``implementation`` names the engine.

The numba kernels compile on first use in each process (10-20 s). They are cached
on disk under ``$CODECBENCH_HOME/numba`` (unless ``NUMBA_CACHE_DIR`` says otherwise), so later
processes load them in about a second; :func:`warm_up` does that ahead of the first pair.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import numpy as np

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair, prepare_pair
from codecbench.evaluation.metrics.registry import DEFAULT_VISQOL_PROTOCOL, Resolution, selected_visqol_engine
from codecbench.evaluation.metrics.result import MetricError
from codecbench.paths import codecbench_home
from codecbench.synthetic import speech_like

VISQOL_MODES = ("speech", "audio")
VISQOL_MAPPINGS = ("lattice", "exponential", "svr")
# Shorter signals leave ViSQOL too few patches to compare (speech mode fails below about
# 0.75 s, audio mode below about 1 s); Google recommends 8-10 s clips.
MIN_DURATION_S = 1.0


@dataclass(frozen=True)
class VisqolProtocol:
    """One way of running ViSQOL.

    Args:
        name: the protocol's name, recorded with every score.
        mode: ``"speech"`` (21 bands to 8 kHz, voice-activity patches) or ``"audio"``
            (32 bands, SVR).
        mapping: ``"lattice"`` or ``"exponential"`` (speech mode), ``"svr"`` (audio mode).
        sample_rate_hz: the rate both signals are resampled to; ``None`` runs at the
            reference's own rate.
        min_reference_rate_hz: references sampled below this rate are refused (resampling up
            would only feed the model bands that hold nothing).
    """

    name: str
    mode: str
    mapping: str
    sample_rate_hz: int | None
    min_reference_rate_hz: int
    description: str

    def __post_init__(self) -> None:
        if self.mode not in VISQOL_MODES:
            raise ValueError(f"ViSQOL mode {self.mode!r} is not one of {VISQOL_MODES}")
        allowed = ("lattice", "exponential") if self.mode == "speech" else ("svr",)
        if self.mapping not in allowed:
            raise ValueError(f"ViSQOL {self.mode} mode has no {self.mapping!r} mapping; choose one of {allowed}")

    def run_rate_hz(self, reference_rate_hz: int) -> int:
        return self.sample_rate_hz or reference_rate_hz


VISQOL_PROTOCOLS: dict[str, VisqolProtocol] = {
    protocol.name: protocol
    for protocol in (
        VisqolProtocol(
            "speech", "speech", "lattice", 16_000, 16_000,
            "speech mode at 16 kHz, deep-lattice mapping (Google's default since v3.1)",
        ),
        VisqolProtocol(
            "speech-exp", "speech", "exponential", 16_000, 16_000,
            "speech mode at 16 kHz, exponential mapping scaled to reach 5.0",
        ),
        VisqolProtocol(
            "audio", "audio", "svr", 48_000, 8_000,
            "audio mode at 48 kHz (both signals resampled), SVR mapping",
        ),
        VisqolProtocol(
            "audio-native", "audio", "svr", None, 8_000,
            "audio mode at the files' own rate (FunCodec's tables: 16 kHz files), SVR mapping",
        ),
    )
}


def visqol_protocol(name: str) -> VisqolProtocol:
    """The protocol called ``name``; ``ValueError`` naming the allowed ones otherwise."""
    try:
        return VISQOL_PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown ViSQOL protocol {name!r}; choose one of {', '.join(VISQOL_PROTOCOLS)}"
        ) from None


def visqol_metric(protocol_name: str, engine: str | None = None) -> Metric:
    """The ``visqol`` metric under one protocol, computed by ``engine`` (default:
    :func:`~codecbench.evaluation.metrics.registry.selected_visqol_engine`)."""
    protocol = visqol_protocol(protocol_name)
    engine = engine or selected_visqol_engine()
    packages = ("visqol-python", "ai-edge-litert") if protocol.mapping == "lattice" else ("visqol-python",)
    if engine == "codecbench":
        packages = ("codecbench", *packages)
    return Metric(
        name="visqol",
        protocol=protocol.name,
        packages=packages,
        compute=partial(visqol_mos, protocol=protocol, engine=engine),
        uses_alignment=False,
        method="codecbench ViSQOL engine" if engine == "codecbench" else None,
    )


def visqol_metrics(resolution: Resolution) -> list[Metric]:
    """What ``visqol`` runs on a pair: one metric per requested protocol."""
    return [visqol_metric(protocol) for protocol in resolution.visqol_protocols]


def visqol_mos(pair: PreparedPair, protocol: VisqolProtocol, engine: str | None = None) -> float:
    """ViSQOL's MOS-LQO for a pair under ``protocol``, computed by ``engine`` (one of
    ``VISQOL_ENGINES``; default: :func:`~codecbench.evaluation.metrics.registry.selected_visqol_engine`).

    Raises:
        MetricError: the pair is too short, the reference's rate too low for the protocol,
            the lattice runtime is missing, or ViSQOL fails on the signals.
    """
    if pair.sample_rate_hz < protocol.min_reference_rate_hz:
        raise MetricError(
            f"ViSQOL {protocol.name} needs a reference sampled at "
            f"{protocol.min_reference_rate_hz / 1000:g} kHz or more (it models bands up to 8 kHz); "
            f"this reference is {pair.sample_rate_hz / 1000:g} kHz. Score narrow-band audio "
            "with pesq_nb, or use the audio-native protocol."
        )
    if pair.duration_s < MIN_DURATION_S:
        raise MetricError(
            f"ViSQOL needs at least {MIN_DURATION_S:g} s of audio and this reference is "
            f"{pair.duration_s:.2f} s; Google recommends 8-10 s clips with about 0.5 s of "
            "silence around the speech."
        )
    rate = protocol.run_rate_hz(pair.sample_rate_hz)
    reference, degraded = pair.at_rate(rate)
    reference = np.ascontiguousarray(reference, np.float64)
    degraded = np.ascontiguousarray(degraded, np.float64)
    if (engine or selected_visqol_engine()) == "codecbench":
        return _fast_visqol_mos(reference, degraded, protocol, rate)
    api = _visqol_api(protocol.name)
    try:
        with _VISQOL_LOCK:
            result = api.measure_from_arrays(reference, degraded, rate)
    except Exception as error:  # the port raises IndexError/ValueError on signals it cannot use
        raise MetricError(
            f"ViSQOL ({protocol.name}) could not score this pair ({type(error).__name__}: {error}); "
            "this happens when the reference has too little speech or too few frames to compare. "
            "Use clips of several seconds of speech."
        ) from error
    return float(result.moslqo)


def _fast_visqol_mos(reference: np.ndarray, degraded: np.ndarray, protocol: VisqolProtocol, rate: int) -> float:
    """codecbench's engine; the reference's analysis is reused for every degraded signal
    scored against it in this process."""
    engine = fast_engine()
    settings = engine.VisqolSettings(speech_mode=protocol.mode == "speech", mapping=protocol.mapping, sample_rate_hz=rate)
    try:
        engine.quality_mapper(settings)
    except ImportError as error:
        raise MetricError(
            f"ViSQOL {protocol.name} needs the lattice runtime: "
            "pip install 'visqol-python[lattice]' (or use --visqol-protocol speech-exp)"
        ) from error
    # Anything but a VisqolFailure is a fault of the engine, reported as such by the caller.
    try:
        return engine.score(engine.reference_analysis(reference, settings), degraded).moslqo
    except engine.VisqolFailure as error:
        raise MetricError(f"ViSQOL ({protocol.name}) could not score this pair: {error}") from None


def fast_engine() -> Any:
    """codecbench's ViSQOL engine module, imported once numba's cache folder is set (its
    kernels are cached beside visqol-python's)."""
    import_visqol_library()
    from codecbench.evaluation.metrics.visqol_fast import engine

    return engine


def warm_up_for(resolution: Resolution) -> None:
    """:func:`warm_up` for the protocols a scoring run asks for (the registry's warm-up hook)."""
    warm_up(resolution.visqol_protocols)


def warm_up(protocol_names: tuple[str, ...] = (DEFAULT_VISQOL_PROTOCOL,)) -> None:
    """Load (or compile) ViSQOL's kernels and models for these protocols in this process."""
    reference = speech_like(MIN_DURATION_S + 0.5, 16_000, seed=0, peak=0.2)
    pair = prepare_pair((reference, 16_000), (reference * np.float32(0.9), 16_000))
    engine = selected_visqol_engine()
    for name in protocol_names:
        visqol_mos(pair, visqol_protocol(name), engine)


# One computation at a time per process: numba's default threading layer (workqueue) aborts
# the process when two threads launch parallel kernels at once.
_VISQOL_LOCK = threading.Lock()


@cache
def _visqol_api(protocol_name: str) -> Any:
    """A ready ``VisqolApi`` for a protocol, made once per process."""
    protocol = visqol_protocol(protocol_name)
    api = import_visqol_library().VisqolApi()
    if protocol.mode == "speech":
        try:
            api.create(mode="speech", use_lattice_model=protocol.mapping == "lattice")
        except ImportError as error:
            raise MetricError(
                f"ViSQOL {protocol.name} needs the lattice runtime: "
                "pip install 'visqol-python[lattice]' (or use --visqol-protocol speech-exp)"
            ) from error
    else:
        api.create(mode="audio")
    return api


def import_visqol_library() -> Any:
    """Import ``visqol-python`` the way codecbench needs it: numba's cache under the codecbench
    home, and the port's sample-rate advice silenced. Importing it before numba also lets it
    choose numba's threading layer (``workqueue``), as it does in any other process."""
    use_codecbench_numba_cache()
    _quiet_rate_advice()
    import visqol

    return visqol


def use_codecbench_numba_cache() -> None:
    """Point numba's on-disk cache at ``$CODECBENCH_HOME/numba`` unless the user set one.

    Must run before ``visqol`` is imported: numba picks a function's cache folder when the
    function is defined. Works whether or not numba itself is already imported.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    cache_dir = str(codecbench_home() / "numba")
    os.environ["NUMBA_CACHE_DIR"] = cache_dir
    if "numba" in sys.modules:
        sys.modules["numba"].config.CACHE_DIR = cache_dir


@cache
def _quiet_rate_advice() -> None:
    """Drop the port's "sample rate is not 48 kHz / above 16 kHz" log lines.

    Every protocol chooses its rate on purpose (``audio-native`` runs audio mode on 16 kHz
    speech by definition), so the advice would only be noise on every pair.
    """
    logging.getLogger("visqol.visqol_manager").addFilter(
        lambda record: "sample rate" not in record.getMessage().lower()
    )
