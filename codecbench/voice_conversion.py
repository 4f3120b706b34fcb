"""Voice conversion: what one clip says, and how (content and prosody), in the voice of another.

FACodec does it: the content clip's prosody and content codes, the timbre clip's timbre vector,
spoken by its redecoder (``ns3_facodec_redecoder.bin``). ``codecbench convert-voice`` and the
Listen page's voice-conversion box both call :func:`convert_voice`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from codecbench.audio import Audio
from codecbench.codecs import CodecNotReadyError, LoadOptions, Readiness, get_entry, load_codec, readiness
from codecbench.codecs.checkpoints import optional_file_readiness
from codecbench.codecs.facodec.entry import FACODEC_NAME, FACODEC_REDECODER


class VoiceConversionUnavailableError(CodecNotReadyError):
    """Voice conversion cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class VoiceConversionResult:
    """A converted clip and how it was made.

    Attributes:
        samples: float32 ``[num_samples]``, the content clip's length and rate.
        sample_rate_hz: the content clip's rate.
        timbre_duration_s: length of the clip the voice was taken from.
        processing_s: wall-clock time of resampling, encoding both clips and redecoding.
        padded_samples: zeros added at the end (at FACodec's 16 kHz) where the redecoder's
            output was shorter than the content clip; not FACodec's.
    """

    samples: np.ndarray
    sample_rate_hz: int
    timbre_duration_s: float
    processing_s: float
    padded_samples: int = 0

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate_hz

    def summary(self) -> dict[str, Any]:
        """The JSON record ``codecbench convert-voice`` prints."""
        return {
            "codec": FACODEC_NAME,
            "sample_rate": self.sample_rate_hz,
            "duration_s": round(self.duration_s, 4),
            "timbre_duration_s": round(self.timbre_duration_s, 4),
            "padded_samples": self.padded_samples,
            "processing_s": round(self.processing_s, 4),
            "realtime_factor": round(self.processing_s / self.duration_s, 4),
        }


def voice_conversion_readiness(options: LoadOptions = LoadOptions()) -> Readiness:
    """Whether FACodec can convert voices with ``options``: its weights and its redecoder are there."""
    state = readiness(FACODEC_NAME, options)
    if not state.ready:
        return Readiness(False, f"FACodec is not ready: {state.reason}", state.remedy)
    redecoder = optional_file_readiness(FACODEC_NAME, get_entry(FACODEC_NAME).weights, FACODEC_REDECODER, options)
    if not redecoder.ready:
        return Readiness(False, f"voice conversion needs FACodec's redecoder, and {redecoder.reason}", redecoder.remedy)
    return Readiness.ok()


def convert_voice(content: Audio, timbre: Audio, options: LoadOptions = LoadOptions()) -> VoiceConversionResult:
    """``content`` spoken in the voice of ``timbre``, at the content clip's rate and length.

    Raises:
        VoiceConversionUnavailableError: FACodec or its redecoder is missing (the message says
            how to get them).
        ValueError: the model in the directory is not one FACodec can load.
    """
    state = voice_conversion_readiness(options)
    if not state.ready:
        raise VoiceConversionUnavailableError(f"{state.reason} {state.remedy or ''}".strip())
    codec = load_codec(FACODEC_NAME, options)
    started = time.perf_counter()
    converted = codec.convert_voice(content, timbre)
    return VoiceConversionResult(
        samples=converted.samples,
        sample_rate_hz=content.sample_rate_hz,
        timbre_duration_s=timbre.duration_s,
        processing_s=time.perf_counter() - started,
        padded_samples=converted.padded_samples,
    )
