"""Side-by-side comparison of one clip through several codec conditions (the Listen page's engine).

Each condition is run independently: a failing codec yields an outcome carrying its error,
and the others go on. Outputs (audio files and spectrograms on the original's scale) are
written to a folder the caller owns. Scores come afterwards, from a separate worker process
(:class:`ReconstructionScorer`), so showing and playing the audio never waits for them.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.audio import Audio, write_audio
from codecbench.code_streams import render_code_streams
from codecbench.codecs import EncodedAudio, LoadOptions, TokenPayload, load_codec, transcode
from codecbench.codecs.condition import Condition
from codecbench.evaluation.metrics import (
    DEFAULT_VISQOL_PROTOCOL,
    VISQOL_PROTOCOLS,
    MetricsPool,
    PairScores,
    ScoringConfig,
    ScoringPair,
)
from codecbench.evaluation.metrics.registry import preset
from codecbench.spectrogram import SpectrogramScale, render_spectrograms
from codecbench.tokens.statistics import NoTokensError, measure_tokens, token_report

# What the Listen page shows under each player.
LISTEN_METRICS = preset("core")
# Why a condition has no token figures, when it is not a token codec.
NO_TOKENS_NOTE = "sends no tokens: token statistics are for token (neural) codecs"


@dataclass(frozen=True)
class ConditionOutcome:
    """What one condition produced: its files and transcode record, or the error it hit.

    ``summary`` is :meth:`TranscodeResult.summary` (the record ``codecbench transcode``
    prints); the samples themselves are in ``audio_path``. ``codes_path`` is an image of the
    codes over time, for codecs whose codes come in streams of different attributes (FACodec).
    ``tokens`` is a token codec's figures for the clip (:meth:`TokenReport.to_dict`); when there
    are none, ``tokens_note`` says why (the codec sends no tokens, or measuring them failed).
    """

    condition: Condition
    summary: dict[str, Any] | None = None
    audio_path: Path | None = None
    spectrogram_path: Path | None = None
    error: str | None = None
    codes_path: Path | None = None
    strip_path: Path | None = None
    tokens: dict[str, Any] | None = None
    tokens_note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class OriginalView:
    """The original clip as shown above the conditions.

    ``strip_path`` is its spectrogram without axes, time running edge to edge, to put under a
    player's timeline.
    """

    audio_path: Path
    spectrogram_path: Path
    scale: SpectrogramScale
    strip_path: Path | None = None


def show_original(audio: Audio, output_dir: Path) -> OriginalView:
    """Write the (mono) original and its spectrogram; fixes the colour scale for all conditions."""
    output_dir.mkdir(parents=True, exist_ok=True)
    scale = SpectrogramScale.from_reference(audio.samples, audio.sample_rate_hz)
    audio_path = write_audio(output_dir / "original.wav", audio.samples, audio.sample_rate_hz)
    spectrogram_path, strip_path = render_spectrograms(
        audio.samples, audio.sample_rate_hz, scale, output_dir / "original.png", output_dir / "original_strip.png",
        title="original",
    )
    return OriginalView(audio_path, spectrogram_path, scale, strip_path)


def run_condition(
    audio: Audio, condition: Condition, scale: SpectrogramScale, output_dir: Path, options: LoadOptions = LoadOptions()
) -> ConditionOutcome:
    """Transcode ``audio`` under one condition and draw it; any failure becomes the outcome's error."""
    try:
        codec = load_codec(condition.codec, options)
        result = transcode(codec, audio, codec.spec.operating_point(condition.kbps))
        stem = _file_stem(condition)
        audio_path = write_audio(output_dir / f"{stem}.wav", result.samples, result.sample_rate_hz)
        spectrogram_path, strip_path = render_spectrograms(
            result.samples, result.sample_rate_hz, scale, output_dir / f"{stem}.png", output_dir / f"{stem}_strip.png",
            title=condition.title,
        )
        codes_path = None
        payload, point = result.encoded.payload, result.operating_point
        if isinstance(payload, TokenPayload) and (streams := payload.code_streams()):
            codes_path = render_code_streams(
                streams, point.frame_rate_hz, point.codebook_size, output_dir / f"{stem}_codes.png",
                title=f"{condition.title}: codes",
            )
    except Exception as error:  # one broken condition must not sink the others
        return ConditionOutcome(condition, error=_describe(error))
    tokens, tokens_note = token_figures(result.encoded)
    return ConditionOutcome(
        condition, result.summary(), audio_path, spectrogram_path, codes_path=codes_path, strip_path=strip_path,
        tokens=tokens, tokens_note=tokens_note,
    )


def token_figures(encoded: EncodedAudio) -> tuple[dict[str, Any] | None, str | None]:
    """A condition's token figures for the clip (:meth:`TokenReport.to_dict`), or why there are
    none: :data:`NO_TOKENS_NOTE` for a classical codec or an anchor, the reason when measuring
    fails (the reconstruction stands; only its figures are missing)."""
    try:
        return _finite(token_report([measure_tokens(encoded)]).to_dict()), None
    except NoTokensError:
        return None, NO_TOKENS_NOTE
    except Exception as error:  # the figures must not sink the condition they describe
        return None, f"token statistics failed: {_describe(error)}"


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (e.g. a mean over no codebook) as ``None``: the
    browser's JSON parser refuses them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def compare(
    audio: Audio,
    conditions: Sequence[Condition],
    output_dir: Path,
    *,
    scale: SpectrogramScale | None = None,
    on_progress: Callable[[int, int, Condition], None] | None = None,
    load_options: Callable[[str], LoadOptions] = lambda codec: LoadOptions(),
) -> Iterator[ConditionOutcome]:
    """Run every condition on ``audio``, yielding each outcome as soon as it is ready.

    ``load_options`` says how to load each codec (model directory, device).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    scale = scale or SpectrogramScale.from_reference(audio.samples, audio.sample_rate_hz)
    for index, condition in enumerate(conditions):
        if on_progress is not None:
            on_progress(index, len(conditions), condition)
        yield run_condition(audio, condition, scale, output_dir, load_options(condition.codec))


class ReconstructionScorer:
    """Scores reconstructions against their original in a warm worker process.

    Scoring runs outside the caller's process: ViSQOL's kernels hold the interpreter while
    they run and must not run from two threads at once, and a web server that serves audio
    must do neither. One scorer is shared by every page session; its pairs queue in order.

    Args:
        workers: worker processes (each uses one core while scoring).
    """

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._pool: MetricsPool | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers and load ViSQOL in them now, without waiting for it."""
        self._ensure_pool().start()

    def score(
        self, original_path: Path, outcomes: Sequence[ConditionOutcome], visqol_protocol: str = DEFAULT_VISQOL_PROTOCOL
    ) -> Iterator[PairScores]:
        """Score every successful outcome's audio file against the original file, yielding
        each one's scores (``pair_id`` is the condition, e.g. ``opus@6``) as they finish."""
        config = ScoringConfig(LISTEN_METRICS, (visqol_protocol,))
        pool = self._ensure_pool()
        futures = {
            pool.submit(ScoringPair(str(outcome.condition), original_path, outcome.audio_path), config): outcome
            for outcome in outcomes
            if outcome.ok and outcome.audio_path is not None
        }
        for future in as_completed(futures):
            yield pool.collect(future, str(futures[future].condition), config)

    def close(self) -> None:
        """Stop the workers at once (pairs still queued are dropped)."""
        with self._lock:
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None

    def _ensure_pool(self) -> MetricsPool:
        with self._lock:
            if self._pool is None:
                warm = ScoringConfig(LISTEN_METRICS, tuple(VISQOL_PROTOCOLS))
                self._pool = MetricsPool(warm, workers=self._workers)
            return self._pool


def _file_stem(condition: Condition) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", condition.title).strip("_")


def _describe(error: Exception) -> str:
    message = str(error) or type(error).__name__
    if isinstance(error, (ValueError, RuntimeError, OSError)):
        return message
    return f"{type(error).__name__}: {message}"
