"""Codecs: the protocol, the registry, and running audio through a codec."""

from codecbench.codecs.base import (
    Codec,
    CodecNotReadyError,
    CodecSpec,
    EncodedAudio,
    OperatingPoint,
    Readiness,
)
from codecbench.codecs.registry import RegistryEntry, get_entry, load_codec, readiness, registry_entries
from codecbench.codecs.transcode import TranscodeResult, transcode

__all__ = [
    "Codec",
    "CodecNotReadyError",
    "CodecSpec",
    "EncodedAudio",
    "OperatingPoint",
    "Readiness",
    "RegistryEntry",
    "TranscodeResult",
    "get_entry",
    "load_codec",
    "readiness",
    "registry_entries",
    "transcode",
]
