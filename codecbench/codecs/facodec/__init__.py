"""FACodec (NaturalSpeech 3, Amphion): an inference-only implementation loading the published checkpoints.

FACodec factorises 16 kHz speech into prosody, content and acoustic-residual codes (80 frames/s,
1024-entry codebooks) plus a continuous timbre vector per utterance, and can speak one
utterance's codes with another's timbre (voice conversion, through its redecoder).
"""

from codecbench.codecs.facodec.checkpoint import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    CheckpointMismatchError,
    LoadReport,
    decoder_training_only_prefixes,
    load_upstream_state_dict,
    upstream_state_dict,
)
from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import (
    SAMPLE_RATE_HZ,
    FACodecConfig,
    FACodecDecoderConfig,
    FACodecEncoderConfig,
    FACodecRedecoderConfig,
    TransformerEncoderConfig,
)
from codecbench.codecs.facodec.model import (
    FACodecEncoding,
    FACodecModel,
    LoadedFACodec,
    RedecoderMissingError,
    load_facodec,
)

__all__ = [
    "CONFIG_FILENAME",
    "DECODER_FILENAME",
    "ENCODER_FILENAME",
    "REDECODER_FILENAME",
    "SAMPLE_RATE_HZ",
    "CheckpointMismatchError",
    "FACodecConfig",
    "FACodecDecoderConfig",
    "FACodecEncoderConfig",
    "FACodecEncoding",
    "FACodecModel",
    "FACodecRedecoderConfig",
    "FactorizedCodes",
    "LoadReport",
    "LoadedFACodec",
    "RedecoderMissingError",
    "TransformerEncoderConfig",
    "decoder_training_only_prefixes",
    "load_facodec",
    "load_upstream_state_dict",
    "upstream_state_dict",
]
