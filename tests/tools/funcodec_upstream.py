"""Run FunCodec's own model code from a checkout, for the reference tools (not part of the test run).

FunCodec is not installed: its modules are imported from the checkout, with the few
training-only imports they pull in (torchaudio's classes, typeguard, loss and trainer classes)
stubbed, since inference never calls them. FreqCodec's STFT is torchaudio's ``Spectrogram``
and ``InverseSpectrogram`` with their defaults; :class:`Spectrogram` and
:class:`InverseSpectrogram` here call ``torch.stft``/``torch.istft`` with those same settings
(periodic Hann window of ``n_fft``, centred, reflect padding, not normalised, one-sided).
Needs ``einops`` (pass a ``pip install --target`` directory if it is not installed).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch


class Spectrogram(torch.nn.Module):
    """torchaudio.transforms.Spectrogram(n_fft, hop_length, power=None) as FreqCodec builds it."""

    def __init__(self, n_fft: int = 400, hop_length: int | None = None, power: float | None = 2.0):
        super().__init__()
        self.n_fft, self.hop_length, self.power = n_fft, hop_length or n_fft // 2, power
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        shape = waveform.shape
        spectrum = torch.stft(
            waveform.reshape(-1, shape[-1]), self.n_fft, self.hop_length, self.n_fft, self.window,
            center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
        )
        spectrum = spectrum.reshape(shape[:-1] + spectrum.shape[-2:])
        return spectrum if self.power is None else spectrum.abs().pow(self.power)


class InverseSpectrogram(torch.nn.Module):
    """torchaudio.transforms.InverseSpectrogram(n_fft, hop_length) as FreqCodec builds it."""

    def __init__(self, n_fft: int = 400, hop_length: int | None = None):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length or n_fft // 2
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, spectrogram: torch.Tensor, length: int | None = None) -> torch.Tensor:
        shape = spectrogram.shape
        waveform = torch.istft(
            spectrogram.reshape(-1, shape[-2], shape[-1]), self.n_fft, self.hop_length, self.n_fft, self.window,
            center=True, normalized=False, onesided=True, length=length, return_complex=False,
        )
        return waveform.reshape(shape[:-2] + waveform.shape[-1:])


def import_funcodec(checkout: Path, einops_site: Path | None = None) -> None:
    """Make ``funcodec`` importable from ``checkout`` (the directory holding ``funcodec/``)."""
    if einops_site is not None:
        sys.path.insert(0, str(einops_site))
    sys.path.insert(0, str(checkout))

    def module(name: str, **attributes) -> None:
        stub = types.ModuleType(name)
        stub.__dict__.update(attributes)
        sys.modules[name] = stub

    class AbsGANESPnetModel(torch.nn.Module):
        pass

    transforms = types.SimpleNamespace(Spectrogram=Spectrogram, InverseSpectrogram=InverseSpectrogram)
    module("torchaudio", transforms=transforms, functional=types.SimpleNamespace())
    module("typeguard", check_argument_types=lambda: True, check_return_type=lambda *a: True)
    module("funcodec.train.abs_gan_espnet_model", AbsGANESPnetModel=AbsGANESPnetModel)
    module("funcodec.torch_utils.device_funcs", force_gatherable=None)
    module("funcodec.losses.label_smoothing_loss", LabelSmoothingLoss=None)
    module("funcodec.layers.mask_along_axis", MaskAlongAxisVariableMaxWidth=None)
    module("funcodec.utils.hinter", hint_once=lambda *a, **k: None)


def load_as_funcodec_does(model: torch.nn.Module, source: dict[str, torch.Tensor]) -> torch.nn.Module:
    """Load ``source`` as ``build_model_from_file`` does (keep the keys the model has with the
    same shape, update, load) and check that only training-only keys were left out."""
    destination = model.state_dict()
    kept = {k: v for k, v in source.items() if k in destination and destination[k].shape == v.shape}
    left_out = sorted(set(source) - set(kept))
    not_covered = sorted(set(destination) - set(kept))
    assert not not_covered, f"test weights miss FunCodec keys: {not_covered[:10]}"
    assert all(k.startswith(("discriminator.", "mel_spec_transforms.")) for k in left_out), left_out
    destination.update(kept)
    model.load_state_dict(destination)
    return model.eval()


def latents_and_codebooks(model: torch.nn.Module, speech: torch.Tensor) -> tuple[np.ndarray, list[np.ndarray]]:
    """What FunCodec's residual quantizer compares for one clip: the latents ``[T, D]`` that
    ``model._encode`` gives (encoder output, after the loudness normalisation) and its codebooks."""
    ((latents, _),) = model._encode(speech[:, None])  # one segment; [B, T, D]
    stacked = model.quantizer.rq.model.embed  # DistributedResidualVectorQuantization: [n_q, bins, D]
    return latents[0].detach().numpy(), [codebook.detach().numpy() for codebook in stacked]
