"""Codecs: the protocol, the registry, and running audio through a codec."""

from codecbench.codecs.base import (
    Codec,
    CodecNotReadyError,
    CodecSpec,
    EncodedAudio,
    LoadOptions,
    OperatingPoint,
    Readiness,
    TokenPayload,
)
from codecbench.codecs.registry import (
    RegistryEntry,
    codec_spec,
    get_entry,
    load_codec,
    readiness,
    registry_entries,
)
from codecbench.codecs.transcode import TranscodeResult, transcode

__all__ = [
    "Codec",
    "CodecNotReadyError",
    "CodecSpec",
    "EncodedAudio",
    "LoadOptions",
    "OperatingPoint",
    "Readiness",
    "RegistryEntry",
    "TokenPayload",
    "TranscodeResult",
    "codec_spec",
    "get_entry",
    "load_codec",
    "readiness",
    "registry_entries",
    "transcode",
]
