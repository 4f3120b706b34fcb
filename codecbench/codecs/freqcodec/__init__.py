"""FunCodec's FreqCodec, inference only, in plain PyTorch.

Build it from FunCodec's ``config.yaml`` (:meth:`FreqCodecConfig.from_upstream`) and fill it
from ``model.pth`` (:func:`load_model`); :meth:`FreqCodecModel.encode` and
:meth:`FreqCodecModel.decode` match FunCodec's own inference.
"""

from codecbench.codecs.freqcodec.checkpoint import (
    TRAINING_ONLY_CODEBOOK_BUFFERS,
    TRAINING_ONLY_PREFIXES,
    CheckpointError,
    CheckpointReport,
    load_model,
    load_upstream_state_dict,
)
from codecbench.codecs.freqcodec.config import (
    Decoder2dConfig,
    Encoder2dConfig,
    FreqCodecConfig,
    QuantizerConfig,
    SpectralConfig,
)
from codecbench.codecs.freqcodec.model import FreqCodecCodes, FreqCodecModel

__all__ = [
    "TRAINING_ONLY_CODEBOOK_BUFFERS",
    "TRAINING_ONLY_PREFIXES",
    "CheckpointError",
    "CheckpointReport",
    "Decoder2dConfig",
    "Encoder2dConfig",
    "FreqCodecCodes",
    "FreqCodecConfig",
    "FreqCodecModel",
    "QuantizerConfig",
    "SpectralConfig",
    "load_model",
    "load_upstream_state_dict",
]
