"""The codec protocol: what every codec in codecbench is and does.

A codec is described by a :class:`CodecSpec` (known without loading anything, so the app and
``codecbench codecs`` can list it) and implemented by a :class:`Codec` whose ``encode`` returns
an :class:`EncodedAudio` payload and whose ``decode`` rebuilds audio from that payload alone.
Bitrate is measured from the payload, never copied from a table.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


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
    """

    name: str
    family: str
    description: str
    sample_rate_hz: int | None
    operating_points: tuple[OperatingPoint, ...]
    bitrate_range_kbps: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.operating_points:
            raise ValueError(f"codec {self.name!r} lists no operating points")

    def operating_point(self, kbps: float | None = None) -> OperatingPoint:
        """The operating point for a requested bitrate.

        ``None`` is allowed only for a codec with a single operating point (an anchor).

        Raises:
            ValueError: the bitrate is not one this codec runs at; the message lists them.
        """
        if kbps is None:
            if len(self.operating_points) == 1:
                return self.operating_points[0]
            raise ValueError(
                f"{self.name} needs a bitrate: choose one of {self.describe_bitrates()} (-b KBPS)."
            )
        for point in self.operating_points:
            if point.nominal_kbps is not None and math.isclose(point.nominal_kbps, kbps, abs_tol=1e-6):
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
        }

    def describe_bitrates(self) -> str:
        listed = ", ".join(
            f"{p.nominal_kbps:g}" + (f" ({p.label})" if p.label != f"{p.nominal_kbps:g} kbps" else "")
            for p in self.operating_points
            if p.nominal_kbps is not None
        )
        if self.bitrate_range_kbps is not None:
            low, high = self.bitrate_range_kbps
            listed += f", or any value from {low:g} to {high:g}"
        return listed + " kbps"


@dataclass(frozen=True)
class EncodedAudio:
    """What an encoder emits: everything its decoder needs, and nothing else.

    Attributes:
        payload: ``bytes`` for bitstream codecs; integer tokens ``[num_codebooks, num_frames]``
            for token codecs; the processed float waveform ``[num_samples]`` for anchors.
        payload_bits: size of the payload in bits as it would be transmitted; ``None`` for
            anchors, which have no bitstream.
        num_samples: length of the encoded audio at ``sample_rate_hz`` (decoders pad frames).
        sample_rate_hz: rate of the audio that was encoded.
        operating_point: the setting used.
    """

    payload: bytes | np.ndarray
    payload_bits: int | None
    num_samples: int
    sample_rate_hz: int
    operating_point: OperatingPoint

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

        The result may be longer than the input (frame padding) and delayed by
        :meth:`delay_samples`; :func:`codecbench.codecs.transcode` trims and aligns it.
        """

    def delay_samples(self, operating_point: OperatingPoint) -> int:
        """Samples (at the codec rate) by which ``decode`` output lags the input."""
        return 0


@dataclass(frozen=True)
class Readiness:
    """Whether a codec can run now, and if not, why and what to do."""

    ready: bool
    reason: str | None = None
    remedy: str | None = None

    @classmethod
    def ok(cls) -> Readiness:
        return cls(ready=True)

    def describe(self) -> str:
        if self.ready:
            return "ready"
        return f"not ready: {self.reason}" + (f" {self.remedy}" if self.remedy else "")


class CodecNotReadyError(RuntimeError):
    """A codec was asked to run but cannot; the message says why and what to do."""
