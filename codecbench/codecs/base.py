"""The codec protocol: what every codec in codecbench is and does.

A codec is described by a :class:`CodecSpec` (known without loading anything, so the app and
``codecbench codecs`` can list it) and implemented by a :class:`Codec` whose ``encode`` returns
an :class:`EncodedAudio` payload and whose ``decode`` rebuilds audio from that payload alone.
Bitrate is measured from the payload, never copied from a table.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# A requested bitrate matches a listed operating point when they agree to two decimals, as
# labels print them ("7.75 kbps" is DAC 44 kHz's 7.751953125 kbps).
KBPS_MATCH_TOLERANCE = 0.005
DEVICE_PATTERN = re.compile(r"cpu|cuda(:[0-9]+)?")


@dataclass(frozen=True)
class OperatingPoint:
    """One setting a codec runs at.

    Args:
        label: how users name it ("6 kbps", "700C", "3.5 kHz").
        nominal_kbps: the bitrate the codec is asked for; ``None`` for anchors, which are
            filters, not codecs.
        frame_rate_hz: token frames per second, for token (neural) codecs.
        num_codebooks: codebooks (quantizers) used per frame, for token codecs.
        codebook_size: entries per codebook, for token codecs.
    """

    label: str
    nominal_kbps: float | None
    frame_rate_hz: float | None = None
    num_codebooks: int | None = None
    codebook_size: int | None = None

    def __post_init__(self) -> None:
        token_fields = (self.frame_rate_hz, self.num_codebooks, self.codebook_size)
        if any(v is not None for v in token_fields) and any(v is None for v in token_fields):
            raise ValueError(
                f"operating point {self.label!r}: frame_rate_hz, num_codebooks and "
                "codebook_size must be given together"
            )
        if self.nominal_kbps is not None and self.nominal_kbps <= 0:
            raise ValueError(f"operating point {self.label!r}: nominal_kbps must be > 0")

    @property
    def tokens_per_second(self) -> float | None:
        """Codebook indices emitted per second (frames/s x codebooks); ``None`` for non-token codecs."""
        if self.frame_rate_hz is None or self.num_codebooks is None:
            return None
        return self.frame_rate_hz * self.num_codebooks

    @property
    def bits_per_token(self) -> int | None:
        if self.codebook_size is None:
            return None
        return math.ceil(math.log2(self.codebook_size))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


@dataclass(frozen=True)
class CodecSpec:
    """What a codec is, known without loading it.

    Args:
        name: registry name used on the command line (``opus``, ``lowpass_3500``).
        family: what kind of system it is ("classical", "anchor", "neural").
        description: one line for listings.
        sample_rate_hz: the rate the codec works at; ``None`` when it works at the input's
            rate (filters) or picks from several (see :meth:`Codec.codec_sample_rate_hz`).
        operating_points: the listed settings, lowest bitrate first.
        bitrate_range_kbps: when set, any bitrate in this closed range is also accepted.
        points_from_model: the operating points are read from the model a user points the
            codec at (``--model-dir``); the spec itself then lists none.
        waveform_coherent: whether the output follows the input's waveform (phase included).
            A vocoder (Codec 2) synthesises its own phase: waveform-matching metrics (SI-SNR)
            say nothing about it and are marked not applicable.
    """

    name: str
    family: str
    description: str
    sample_rate_hz: int | None
    operating_points: tuple[OperatingPoint, ...]
    bitrate_range_kbps: tuple[float, float] | None = None
    points_from_model: bool = False
    waveform_coherent: bool = True

    def __post_init__(self) -> None:
        if not self.operating_points and not self.points_from_model:
            raise ValueError(f"codec {self.name!r} lists no operating points")

    @classmethod
    def for_model_dir(cls, name: str, description: str) -> CodecSpec:
        """The spec of a neural entry that runs any model of its kind (``--model-dir DIR``):
        rate and operating points come from the model it loads."""
        return cls(name=name, family="neural", description=description, sample_rate_hz=None,
                   operating_points=(), points_from_model=True)

    def operating_point(self, kbps: float | None = None) -> OperatingPoint:
        """The operating point for a requested bitrate.

        ``None`` is allowed only for a codec with a single operating point (an anchor).

        Raises:
            ValueError: the bitrate is not one this codec runs at; the message lists them.
        """
        if not self.operating_points:
            raise ValueError(
                f"{self.name} takes its operating points from the model it loads: "
                "pass --model-dir DIR (`codecbench codecs` lists what it needs)."
            )
        if kbps is None:
            if len(self.operating_points) == 1:
                return self.operating_points[0]
            raise ValueError(
                f"{self.name} needs a bitrate: choose one of {self.describe_bitrates()} (-b KBPS)."
            )
        for point in self.operating_points:
            if point.nominal_kbps is not None and abs(point.nominal_kbps - kbps) <= KBPS_MATCH_TOLERANCE:
                return point
        if self.bitrate_range_kbps is not None:
            low, high = self.bitrate_range_kbps
            if low <= kbps <= high:
                return OperatingPoint(label=f"{kbps:g} kbps", nominal_kbps=float(kbps))
        if all(p.nominal_kbps is None for p in self.operating_points):
            raise ValueError(f"{self.name} has no bitrate setting; leave out -b/--bitrate.")
        raise ValueError(
            f"{self.name} does not run at {kbps:g} kbps; choose one of {self.describe_bitrates()}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "sample_rate_hz": self.sample_rate_hz,
            "operating_points": [point.to_dict() for point in self.operating_points],
            "bitrate_range_kbps": self.bitrate_range_kbps,
            "points_from_model": self.points_from_model,
        }

    def describe_bitrates(self) -> str:
        if not self.operating_points:
            return "the model's own bitrates (--model-dir)"
        listed = ", ".join(
            f"{p.nominal_kbps:g}" + (f" ({p.label})" if p.label != f"{p.nominal_kbps:g} kbps" else "")
            for p in self.operating_points
            if p.nominal_kbps is not None
        )
        if self.bitrate_range_kbps is not None:
            low, high = self.bitrate_range_kbps
            listed += f", or any value from {low:g} to {high:g}"
        return listed + " kbps"


@dataclass(frozen=True, eq=False)
class TokenPayload:
    """What a token (neural) codec transmits.

    Attributes:
        codes: integer codebook indices ``[num_codebooks, num_frames]``.
        scale: the loudness (RMS) scale of codecs that normalise their input (FunCodec),
            sent as one float32; ``None`` for codecs without one.
    """

    codes: np.ndarray
    scale: float | None = None

    SCALE_BITS = 32

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or not np.issubdtype(self.codes.dtype, np.integer):
            raise ValueError(f"codes must be an integer array [num_codebooks, num_frames], got {self.codes.dtype} {self.codes.shape}")

    @property
    def num_codebooks(self) -> int:
        return int(self.codes.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[1])

    def num_bits(self, bits_per_token: int) -> int:
        """Bits of the token stream: every token at ``bits_per_token``."""
        return self.codes.size * bits_per_token

    @property
    def side_info_bits(self) -> int:
        """Per-clip side information: the scale, sent once as a float32, if there is one."""
        return self.SCALE_BITS if self.scale is not None else 0

    def code_streams(self) -> tuple[tuple[str, np.ndarray], ...]:
        """The codes split by what they carry, ``(name, [codebooks, frames])``, for codecs whose
        codebooks carry different attributes (FACodec: prosody, content, residual); empty for
        codecs whose codebooks all refine one signal."""
        return ()


@dataclass(frozen=True)
class EncodedAudio:
    """What an encoder emits: everything its decoder needs, and nothing else.

    Attributes:
        payload: ``bytes`` for bitstream codecs; a :class:`TokenPayload` (integer tokens
            ``[num_codebooks, num_frames]``, plus a scale for some) for token codecs; the
            processed float waveform ``[num_samples]`` for anchors.
        payload_bits: size of the payload's stream in bits as it would be transmitted; ``None``
            for anchors, which have no bitstream. Measured bitrate counts these.
        side_info_bits: per-clip side information the decoder also needs, sent once rather
            than streamed (FunCodec's loudness scale, FACodec's timbre vector). Reported apart
            from the bitrate, as papers do, so measured kbps compares with the nominal rate.
        num_samples: length of the encoded audio at ``sample_rate_hz`` (decoders pad frames).
        sample_rate_hz: rate of the audio that was encoded.
        operating_point: the setting used.
    """

    payload: bytes | TokenPayload | np.ndarray
    payload_bits: int | None
    num_samples: int
    sample_rate_hz: int
    operating_point: OperatingPoint
    side_info_bits: int = 0

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate_hz

    @property
    def measured_kbps(self) -> float | None:
        if self.payload_bits is None:
            return None
        return self.payload_bits / self.duration_s / 1000


class Codec(ABC):
    """A loaded codec. Subclasses set ``spec`` and implement ``encode`` and ``decode``."""

    spec: CodecSpec

    def codec_sample_rate_hz(self, input_sample_rate_hz: int) -> int:
        """The rate this codec encodes input of ``input_sample_rate_hz`` at."""
        if self.spec.sample_rate_hz is None:
            return input_sample_rate_hz
        return self.spec.sample_rate_hz

    @abstractmethod
    def encode(
        self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint
    ) -> EncodedAudio:
        """Encode mono float32 ``samples`` ``[n]`` at ``codec_sample_rate_hz(...)``."""

    @abstractmethod
    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        """Rebuild float32 audio ``[n]`` at ``encoded.sample_rate_hz`` from the payload alone.

        The result is what the codec's decoder gives: it may be longer than the input (frame
        padding), shorter (a decoder that stops short of the last samples) and delayed by
        :meth:`delay_samples`; :func:`codecbench.codecs.transcode` aligns it, trims it, pads
        a short one with zeros and reports how many (``padded_samples``).
        """

    def delay_samples(self, operating_point: OperatingPoint) -> int:
        """Samples (at the codec rate) by which ``decode`` output lags the input."""
        return 0

    def encode_batch(
        self, clips: Sequence[np.ndarray], sample_rate_hz: int, operating_point: OperatingPoint
    ) -> list[EncodedAudio]:
        """Encode several clips ``[n_i]`` at once; each result equals what :meth:`encode` gives alone.

        The default encodes one clip after the other. Neural codecs override it to run clips
        through the model together.
        """
        return [self.encode(clip, sample_rate_hz, operating_point) for clip in clips]

    def decode_batch(self, encoded: Sequence[EncodedAudio]) -> list[np.ndarray]:
        """Decode several payloads at once; each result equals what :meth:`decode` gives alone."""
        return [self.decode(item) for item in encoded]


@dataclass(frozen=True)
class LoadOptions:
    """How to load a codec.

    Args:
        model_dir: a local model directory to load instead of the copy in codecbench's Hub
            cache (neural codecs only); made absolute.
        device: where neural codecs run: ``cpu``, ``cuda`` or ``cuda:N``. Classical codecs and
            anchors always run on the CPU.
    """

    model_dir: Path | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device {self.device!r} is not one of cpu, cuda, cuda:N")
        if self.model_dir is not None:
            object.__setattr__(self, "model_dir", Path(self.model_dir).expanduser().absolute())


@dataclass(frozen=True)
class Readiness:
    """Whether a codec can run now, and if not, why and what to do.

    ``note`` says what a ready codec lacks (an optional file, and the feature it gives), and
    how to get it.
    """

    ready: bool
    reason: str | None = None
    remedy: str | None = None
    note: str | None = None

    @classmethod
    def ok(cls) -> Readiness:
        return cls(ready=True)

    def describe(self) -> str:
        if self.ready:
            return "ready" + (f" ({self.note})" if self.note else "")
        return f"not ready: {self.reason}" + (f" {self.remedy}" if self.remedy else "")


class CodecNotReadyError(RuntimeError):
    """A codec was asked to run but cannot; the message says why and what to do."""
