"""Audio I/O and preparation: the one place where codecbench reads, checks and reshapes audio.

Everything downstream (codecs, metrics, the app) receives :class:`Audio`: mono float32
samples in [-1, 1] with their sample rate, already checked for the problems that would make a
codec comparison meaningless (empty, too short, NaN, absurd rates) and annotated with
warnings for the ones that only make it doubtful (silence, clipping, a stereo downmix).

One module per job; this package re-exports their public names, so ``from codecbench.audio
import load_audio`` is the way to use any of them:

* :mod:`~codecbench.audio.checks`: :class:`Audio`, :class:`AudioLimits`, :class:`AudioError`
  and the checks every input passes (:func:`prepare_audio`, :func:`check_audio`);
* :mod:`~codecbench.audio.reading`: whole files, on disk or in memory (:func:`load_audio`);
* :mod:`~codecbench.audio.spans`: a span of a long file, decoding only that span;
* :mod:`~codecbench.audio.writing`: :func:`write_audio` and its output formats;
* :mod:`~codecbench.audio.resampling`: :func:`resample`, :func:`fit_length`;
* :mod:`~codecbench.audio.loudness`: levels, gains and BS.1770 loudness;
* :mod:`~codecbench.audio.delay`: delay estimation, by waveform or by spectral envelope.
"""

from codecbench.audio.checks import (
    CLIP_FRACTION,
    CLIP_LEVEL,
    CLIP_RUN_SAMPLES,
    MAX_FLOAT_PEAK,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    SILENCE_PEAK_DBFS,
    Audio,
    AudioError,
    AudioLimits,
    check_audio,
    check_sample_rate,
    prepare_audio,
)
from codecbench.audio.delay import estimate_delay_samples, estimate_envelope_delay_samples
from codecbench.audio.loudness import (
    apply_gain_db,
    k_weighting_sos,
    loudness_lufs,
    normalize_loudness,
    peak_dbfs,
    rms_dbfs,
)
from codecbench.audio.reading import SUPPORTED_EXTENSIONS, decode_audio_bytes, load_audio
from codecbench.audio.resampling import fit_length, resample
from codecbench.audio.spans import SPAN_MARGIN_S, load_audio_span
from codecbench.audio.writing import (
    DEFAULT_OUTPUT_SUBTYPE,
    OUTPUT_SUBTYPES,
    PCM_SUBTYPES,
    output_format,
    write_audio,
)

__all__ = [
    "CLIP_FRACTION",
    "CLIP_LEVEL",
    "CLIP_RUN_SAMPLES",
    "DEFAULT_OUTPUT_SUBTYPE",
    "MAX_FLOAT_PEAK",
    "MAX_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "OUTPUT_SUBTYPES",
    "PCM_SUBTYPES",
    "SILENCE_PEAK_DBFS",
    "SPAN_MARGIN_S",
    "SUPPORTED_EXTENSIONS",
    "Audio",
    "AudioError",
    "AudioLimits",
    "apply_gain_db",
    "check_audio",
    "check_sample_rate",
    "decode_audio_bytes",
    "estimate_delay_samples",
    "estimate_envelope_delay_samples",
    "fit_length",
    "k_weighting_sos",
    "load_audio",
    "load_audio_span",
    "loudness_lufs",
    "normalize_loudness",
    "output_format",
    "peak_dbfs",
    "prepare_audio",
    "resample",
    "rms_dbfs",
    "write_audio",
]
