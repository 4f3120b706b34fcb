"""FunCodec's FreqCodec, inference only, in plain PyTorch.

Build it from FunCodec's ``config.yaml`` (:meth:`FreqCodecConfig.from_upstream`) and fill it
from ``model.pth`` (:func:`load_model`); :meth:`FreqCodecModel.encode` and
:meth:`FreqCodecModel.decode` match FunCodec's own inference. :mod:`.codec` makes it a
codecbench codec (registry entries, payloads, batches).

The configuration is importable without torch (the registry reads specs from it when it lists
codecs); the names that need torch are imported on first use.
"""

from codecbench.codecs.freqcodec.config import (
    Decoder2dConfig,
    Encoder2dConfig,
    FreqCodecConfig,
    QuantizerConfig,
    SpectralConfig,
)

_TORCH_NAMES = {
    "SKIP_LIST": "checkpoint",
    "TRAINING_ONLY_CODEBOOK_BUFFERS": "checkpoint",
    "TRAINING_ONLY_PREFIXES": "checkpoint",
    "CheckpointError": "checkpoint",
    "CheckpointReport": "checkpoint",
    "load_model": "checkpoint",
    "load_upstream_state_dict": "checkpoint",
    "FreqCodecCodes": "model",
    "FreqCodecModel": "model",
}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_TORCH_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Decoder2dConfig",
    "Encoder2dConfig",
    "FreqCodecConfig",
    "QuantizerConfig",
    "SpectralConfig",
    *_TORCH_NAMES,
]
