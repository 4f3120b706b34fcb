"""FACodec (NaturalSpeech 3, Amphion): an inference-only implementation loading the published checkpoints.

FACodec factorises 16 kHz speech into prosody, content and acoustic-residual codes (80 frames/s,
1024-entry codebooks) plus a continuous timbre vector per utterance, and can speak one
utterance's codes with another's timbre (voice conversion, through its redecoder).

Modules: ``config`` (hyperparameters, model directory layout), ``entry`` (operating points,
weights, loading; what the registry imports), ``model`` (encoder, decoder and redecoder
together: ``load_facodec``, ``FACodecModel``), ``codec`` (the codecbench codec and its
payload), ``checkpoint`` (Amphion's state dicts: key map and skip list; loading is
:mod:`codecbench.codecs.checkpoint_porting`'s), ``codes``, and the
network parts (``encoder``, ``decoder``, ``redecoder``, ``generator``, ``quantizer``,
``transformer``, ``blocks``, ``layers``, ``alias_free``). This package imports only the
torch-free ones; import the others from their modules.
"""

from codecbench.codecs.facodec.config import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    SAMPLE_RATE_HZ,
    FACodecConfig,
    FACodecDecoderConfig,
    FACodecEncoderConfig,
    FACodecRedecoderConfig,
    TransformerEncoderConfig,
)
from codecbench.codecs.facodec.entry import (
    FACODEC_NAME,
    FACODEC_SPEC,
    FACODEC_WEIGHTS,
    facodec_operating_points,
    load_facodec_codec,
)

__all__ = [
    "CONFIG_FILENAME",
    "DECODER_FILENAME",
    "ENCODER_FILENAME",
    "FACODEC_NAME",
    "FACODEC_SPEC",
    "FACODEC_WEIGHTS",
    "REDECODER_FILENAME",
    "SAMPLE_RATE_HZ",
    "FACodecConfig",
    "FACodecDecoderConfig",
    "FACodecEncoderConfig",
    "FACodecRedecoderConfig",
    "TransformerEncoderConfig",
    "facodec_operating_points",
    "load_facodec_codec",
]
