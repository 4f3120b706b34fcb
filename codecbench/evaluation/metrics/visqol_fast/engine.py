"""ViSQOL v3.3 as visqol-python 3.8 computes it, with the reference's work done once.

The steps and their order are ViSQOL's (global alignment, level matching, gammatone
spectrograms, noise floors, patch selection, dynamic-programming patch match, fine
realignment of every patch, pooled statistics, quality mapping). What is new is where the time
goes:

- everything that depends on the reference alone (its spectrogram, its envelope and that
  envelope's spectrum, the voice-activity decisions, each patch slice's envelope and
  spectrogram in the fine realignment) is computed once per reference and kept in a
  :class:`ReferenceAnalysis`, which :func:`reference_analysis` caches for the references
  seen last in this process (within a memory budget): scoring one utterance's 20 conditions
  pays for it once;
- the filterbank and the patch search run in :mod:`kernels`, vectorised over frames and
  offsets, with the same arithmetic as visqol-python's kernels;
- the voice-activity detector is vectorised.

The quality mappings (the SVR model, the deep-lattice network, the exponential fit) are
visqol-python's own objects, fed the same features. Tests compare this module's scores with
visqol-python's on real and degraded speech (``tests/test_visqol_fast.py``).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.evaluation.metrics.visqol_fast import kernels, nsim
from codecbench.evaluation.metrics.visqol_fast.alignment import (
    EnvelopeAligner,
    align_and_truncate,
    shift_by_lag,
)
from codecbench.evaluation.metrics.visqol_fast.patches import (
    AUDIO_PATCH_FRAMES,
    SPEECH_PATCH_FRAMES,
    image_patch_starts,
    voiced_patch_starts,
)
from codecbench.evaluation.metrics.visqol_fast.spectrogram import Filterbank, filterbank, prepare_for_comparison, to_db

SPEECH_BANDS = 21
AUDIO_BANDS = 32
SEARCH_WINDOW_PATCHES = 60
SPL_REFERENCE = 2e-5
LOW_SIMILARITY = 0.15
QUANTILE = 0.10
# Analyses kept per process (one per reference, mode and rate): the evaluation engine's window
# of 8 utterances under the three protocols that analyse differently (speech, audio,
# audio-native) is 24; 8 s utterances take about 5, 17 and 5 MB each, so the budget holds a
# window of utterances up to about 16 s. Beyond it, conditions re-analyse their reference
# (slower, the same numbers). A ten-minute 48 kHz upload's analysis alone is over 1 GB: used,
# not kept.
CACHED_REFERENCES = 32
CACHE_BUDGET_BYTES = 512 * 2**20


class VisqolFailure(ValueError):
    """The pair cannot be scored by ViSQOL (too short, no voiced patch, nothing to match)."""


@dataclass(frozen=True)
class VisqolSettings:
    """What the protocol decides: the mode, the quality mapping and the rate both signals run at."""

    speech_mode: bool
    mapping: str  # "lattice", "exponential" or "svr"
    sample_rate_hz: int

    @property
    def bands(self) -> int:
        return SPEECH_BANDS if self.speech_mode else AUDIO_BANDS

    @property
    def patch_frames(self) -> int:
        return SPEECH_PATCH_FRAMES if self.speech_mode else AUDIO_PATCH_FRAMES

    @property
    def filterbank(self) -> Filterbank:
        return filterbank(self.sample_rate_hz, self.bands, self.speech_mode)


@dataclass(frozen=True)
class VisqolScore:
    """ViSQOL's outputs for one pair."""

    moslqo: float
    vnsim: float
    fvnsim: np.ndarray
    patches: int


@dataclass(eq=False)
class ReferenceAnalysis:
    """Everything about one reference that every degraded signal is compared with."""

    settings: VisqolSettings
    samples: np.ndarray
    spl_db: float
    aligner: EnvelopeAligner
    spectrogram_db: np.ndarray
    patch_starts: np.ndarray
    _slice_aligners: dict[tuple[int, int], EnvelopeAligner] = field(default_factory=dict)
    _slice_spectrograms: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory held, the kept slices included."""
        # list() snapshots each dict at once: another thread may be adding to it.
        arrays = [self.samples, self.spectrogram_db, self.aligner.envelope, *self.aligner.spectra()]
        arrays += [aligner.envelope for aligner in list(self._slice_aligners.values())]
        arrays += list(self._slice_spectrograms.values())
        return sum(array.nbytes for array in arrays)

    def slice_aligner(self, start: int, stop: int) -> EnvelopeAligner:
        """The envelope aligner of ``samples[start:stop]`` of the reference (its envelope kept,
        not its spectra)."""
        key = (start, stop)
        aligner = self._slice_aligners.get(key)
        if aligner is None:
            aligner = self._slice_aligners[key] = EnvelopeAligner(self.samples[start:stop], keep_spectra=False)
        return aligner

    def slice_spectrogram_db(self, start: int, stop: int) -> np.ndarray:
        """The dB spectrogram of ``samples[start:stop]`` of the reference."""
        columns = spectrogram_columns(self.spectrogram_db, self.settings.filterbank, start, stop)
        if columns is not None:
            return columns
        key = (start, stop)
        spectrogram = self._slice_spectrograms.get(key)
        if spectrogram is None:
            spectrogram = self._slice_spectrograms[key] = to_db(self.settings.filterbank.spectrogram(self.samples[start:stop]))
        return spectrogram


def spectrogram_columns(full_db: np.ndarray, bank: Filterbank, start: int, stop: int) -> np.ndarray | None:
    """The spectrogram of ``samples[start:stop]`` read from the whole signal's, when the slice
    starts on a frame boundary (each frame is filtered from rest, so its frames are the whole
    signal's); ``None`` when it does not."""
    if start % bank.hop or stop - start <= bank.frame_length:
        return None
    first = start // bank.hop
    frames = bank.num_frames(stop - start)
    if first + frames > full_db.shape[1]:
        return None
    return full_db[:, first : first + frames]


def analyse_reference(samples: np.ndarray, settings: VisqolSettings) -> ReferenceAnalysis:
    """The reference-side work of ViSQOL on ``samples`` (float64 at ``settings.sample_rate_hz``;
    a read-only copy is kept)."""
    samples = np.array(samples, dtype=np.float64)
    samples.setflags(write=False)
    bank = settings.filterbank
    if samples.shape[0] <= bank.frame_length:
        raise VisqolFailure(f"the reference is {samples.shape[0]} samples long, too short for one ViSQOL frame")
    spectrogram_db = to_db(bank.spectrogram(samples))
    frames = spectrogram_db.shape[1]
    try:
        if settings.speech_mode:
            starts = voiced_patch_starts(samples, frames, bank.hop, settings.patch_frames)
        else:
            starts = image_patch_starts(frames, settings.patch_frames)
    except ValueError as error:
        raise VisqolFailure(str(error)) from None
    if starts.shape[0] == 0:
        raise VisqolFailure("the reference has no patch with voice activity to compare")
    return ReferenceAnalysis(
        settings=settings,
        samples=samples,
        spl_db=_spl_db(samples),
        aligner=EnvelopeAligner(samples),
        spectrogram_db=spectrogram_db,
        patch_starts=starts,
    )


_CACHE: OrderedDict[tuple[bool, int, bytes], ReferenceAnalysis] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def reference_analysis(samples: np.ndarray, settings: VisqolSettings) -> ReferenceAnalysis:
    """:func:`analyse_reference`, kept for the last :data:`CACHED_REFERENCES` references this
    process analysed, within :data:`CACHE_BUDGET_BYTES`. An analysis is found again by the
    mode, the rate and the samples' digest, so equal audio from any caller hits, and the
    protocols that differ only in their quality mapping (``speech``, ``speech-exp``) share it."""
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    digest = hashlib.blake2b(memoryview(samples).cast("B"), digest_size=20).digest()
    key = (settings.speech_mode, settings.sample_rate_hz, digest + str(samples.shape[0]).encode())
    with _CACHE_LOCK:
        analysis = _CACHE.get(key)
        if analysis is not None:
            _CACHE.move_to_end(key)
    if analysis is None:
        analysis = analyse_reference(samples, settings)
        with _CACHE_LOCK:
            _CACHE[key] = analysis
            _trim_cache()
    return analysis if analysis.settings == settings else replace(analysis, settings=settings)


def trim_reference_cache() -> None:
    """Hold the cache to its budget again (analyses grow as degraded signals are scored)."""
    with _CACHE_LOCK:
        _trim_cache()


def _trim_cache() -> None:
    """Drop the least recently used analyses beyond the count or the memory budget (sizes are
    read now: an analysis grows as degraded signals are scored against it)."""
    while len(_CACHE) > CACHED_REFERENCES:
        _CACHE.popitem(last=False)
    sizes = [analysis.nbytes for analysis in _CACHE.values()]
    while _CACHE and sum(sizes) > CACHE_BUDGET_BYTES:
        _CACHE.popitem(last=False)
        sizes.pop(0)


def cached_references() -> int:
    """How many reference analyses this process keeps now."""
    with _CACHE_LOCK:
        return len(_CACHE)


def clear_reference_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def score(reference: ReferenceAnalysis, degraded: np.ndarray) -> VisqolScore:
    """ViSQOL of ``degraded`` (float64, at the reference's rate) against an analysed reference.

    Raises:
        VisqolFailure: the degraded signal is too short or too different to match any patch.
    """
    settings = reference.settings
    bank = settings.filterbank
    lag = reference.aligner.best_lag(degraded)
    degraded, _ = shift_by_lag(reference.samples.shape[0], degraded, lag)
    degraded = degraded * 10.0 ** ((reference.spl_db - _spl_db(degraded)) / 20.0)
    if degraded.shape[0] <= bank.frame_length:
        raise VisqolFailure(f"the degraded signal is {degraded.shape[0]} samples long, too short for one ViSQOL frame")
    if not np.all(np.isfinite(degraded)):
        raise VisqolFailure("the degraded signal could not be brought to the reference's level (it is silent)")
    degraded_full_db = to_db(bank.spectrogram(degraded))
    reference_db, degraded_db = prepare_for_comparison(reference.spectrogram_db, degraded_full_db)

    width = settings.patch_frames
    starts = reference.patch_starts
    kept = _patches_that_fit(starts, degraded_db.shape[1], width)
    if kept == 0:
        raise VisqolFailure("the degraded signal is too short, different or misaligned to score any of the reference's patches")
    starts = starts[:kept]
    ref_patches = np.ascontiguousarray(np.stack([reference_db[:, start : start + width] for start in starts]))
    ref_means, ref_variances = nsim.local_statistics(ref_patches)
    padded = np.ascontiguousarray(np.concatenate([degraded_db, np.zeros((degraded_db.shape[0], width))], axis=1))
    offsets, unmatched = kernels.search_patches(
        ref_patches, ref_means, ref_variances, starts, padded, SEARCH_WINDOW_PATCHES * width,
        nsim.GAUSSIAN_WINDOW, nsim.C1, nsim.C3,
    )

    frame_s = bank.frame_duration_s
    patch_s = frame_s * width
    matches = []
    for index, start in enumerate(starts):
        offset = int(offsets[index])
        match = _similarity(ref_patches[index], padded[:, offset : offset + width])
        ref_start_s = int(start) * frame_s
        match.ref_span = (ref_start_s, ref_start_s + patch_s)
        if unmatched[index]:
            match.similarity = 0.0
            match.band_means = np.zeros(settings.bands)
        else:
            deg_start_s = offset * frame_s
            match = _finely_realigned(reference, degraded, degraded_full_db, match, (deg_start_s, deg_start_s + patch_s))
        matches.append(match)
    trim_reference_cache()
    return _pooled_score(matches, frame_s, settings)


@dataclass
class _PatchMatch:
    similarity: float
    band_means: np.ndarray
    band_stddevs: np.ndarray
    band_energy: np.ndarray
    ref_span: tuple[float, float] = (0.0, 0.0)


def _similarity(ref_patch: np.ndarray, deg_patch: np.ndarray) -> _PatchMatch:
    result = nsim.patch_similarity(ref_patch, deg_patch)
    return _PatchMatch(result.mean, result.band_means, result.band_stddevs, result.band_energy)


def _finely_realigned(
    reference: ReferenceAnalysis, degraded: np.ndarray, degraded_db: np.ndarray, match: _PatchMatch, deg_span: tuple[float, float]
) -> _PatchMatch:
    """ViSQOL's fine realignment of one matched patch: align the two patch-long slices of audio
    again, take their spectrograms (each frame from rest: read from the whole signals' when a
    slice starts on a frame boundary), and keep the new match if it is no worse."""
    rate = reference.settings.sample_rate_hz
    bank = reference.settings.filterbank
    ref_start, ref_slice = _slice(reference.samples, *match.ref_span, rate)
    deg_slice_start, deg_slice = _slice(degraded, *deg_span, rate)
    if ref_slice.shape[0] == 0 or deg_slice.shape[0] == 0:
        return match
    if ref_start >= 0:
        aligner = reference.slice_aligner(ref_start, ref_start + ref_slice.shape[0])
    else:  # a slice ViSQOL padded with zeros: not a stretch of the reference, not kept
        aligner = EnvelopeAligner(ref_slice, keep_spectra=False)
    (start, stop), deg_aligned, deg_offset, lag_s = align_and_truncate(ref_slice, deg_slice, aligner.best_lag(deg_slice), rate)
    if stop - start <= bank.frame_length:
        return match
    if ref_start >= 0:
        ref_db = reference.slice_spectrogram_db(ref_start + start, ref_start + stop)
    else:  # a slice ViSQOL padded with zeros: not a stretch of the reference
        ref_db = to_db(bank.spectrogram(ref_slice[start:stop]))
    deg_db = None
    if deg_slice_start >= 0 and deg_offset is not None:
        first = deg_slice_start + deg_offset
        deg_db = spectrogram_columns(degraded_db, bank, first, first + deg_aligned.shape[0])
    if deg_db is None:
        deg_db = to_db(bank.spectrogram(deg_aligned))
    ref_db, deg_db = prepare_for_comparison(ref_db, deg_db)
    realigned = _similarity(ref_db, deg_db)
    if realigned.similarity < match.similarity:
        return match
    ref_start_s = match.ref_span[0] + lag_s if lag_s > 0 else match.ref_span[0]
    realigned.ref_span = (ref_start_s, ref_start_s + (stop - start) / float(rate))
    return realigned


def _slice(samples: np.ndarray, start_s: float, end_s: float, rate: int) -> tuple[int, np.ndarray]:
    """ViSQOL's slice of ``samples`` between two times (zeros put in front for a span that runs
    past either end, as ViSQOL does); returns where it starts in ``samples`` too."""
    start = max(0, int(start_s * rate))
    stop = min(samples.shape[0] - 1, int(end_s * rate))
    sliced = samples[start:stop]
    overrun = end_s * rate - samples.shape[0]
    padding = int(overrun) if overrun > 0 else 0
    if start_s < 0:
        padding += int(-start_s * rate)
    if padding:
        return -1, np.concatenate([np.zeros(padding), sliced])
    return start, sliced


def _patches_that_fit(starts: np.ndarray, degraded_frames: int, width: int) -> int:
    """How many of the reference's patches the degraded spectrogram can be searched for
    (ViSQOL drops trailing patches that start past its end)."""
    count = starts.shape[0]
    while count > 0 and starts[count - 1] - math.floor(width / 2) > degraded_frames:
        count -= 1
    return count


def _pooled_score(matches: list[_PatchMatch], frame_s: float, settings: VisqolSettings) -> VisqolScore:
    band_means = np.array([match.band_means for match in matches])
    fvnsim = np.mean(band_means, axis=0)
    in_quantile = max(1, int(len(matches) * QUANTILE))
    fvnsim10 = np.array([np.mean(sorted(column)[:in_quantile]) for column in band_means.T])
    fvdegenergy = np.mean(np.array([match.band_energy for match in matches]), axis=0)

    total_frames = 0
    contribution = np.zeros(band_means.shape[1])
    for match in matches:
        frames = math.ceil((match.ref_span[1] - match.ref_span[0]) / frame_s)
        total_frames += frames
        contribution += (frames - 1) * match.band_stddevs * match.band_stddevs
        contribution += frames * match.band_means * match.band_means
    if total_frames <= 1:
        fstdnsim = np.zeros(band_means.shape[1])
    else:
        variance = (contribution - fvnsim * fvnsim * total_frames) / (total_frames - 1)
        fstdnsim = np.sqrt(np.maximum(variance, 0.0))

    with _MAPPER_LOCK:
        moslqo = float(quality_mapper(settings).predict_quality(fvnsim, fvnsim10, fstdnsim, fvdegenergy))
    vnsim = float(np.mean(fvnsim))
    if vnsim < LOW_SIMILARITY:
        moslqo = 1.0
    return VisqolScore(moslqo=moslqo, vnsim=vnsim, fvnsim=fvnsim, patches=len(matches))


def _spl_db(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(samples**2)))
    return float("-inf") if rms == 0 else float(20.0 * np.log10(rms / SPL_REFERENCE))


# The lattice mapper's TFLite interpreter must not run two predictions at once.
_MAPPER_LOCK = threading.Lock()


def quality_mapper(settings: VisqolSettings) -> Any:
    """visqol-python's quality mapper for the settings' mode and mapping, loaded once per process.

    Raises:
        ImportError: the lattice mapping's runtime (``ai-edge-litert``) is not installed.
    """
    return _quality_mapper(settings.speech_mode, settings.mapping)


@cache
def _quality_mapper(speech_mode: bool, mapping: str) -> Any:
    import visqol
    from visqol.visqol_manager import VisqolManager

    manager = VisqolManager()
    svr_model = Path(visqol.__file__).parent / "model" / "libsvm_nu_svr_model.txt"
    manager.init(
        model_path="" if speech_mode else str(svr_model),
        use_speech_mode=speech_mode,
        use_lattice_model=mapping == "lattice" if speech_mode else None,
    )
    return manager.quality_mapper
