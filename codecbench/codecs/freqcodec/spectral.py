"""FreqCodec's domain transform: waveform to spectral planes for the encoder, and the decoder's
planes back to a waveform.

Both sides are what FunCodec gets from torchaudio's ``Spectrogram(n_fft, hop_length,
power=None)`` and ``InverseSpectrogram(n_fft, hop_length)`` with their defaults: a periodic
Hann window of ``n_fft`` samples, centred frames (reflect padding of ``n_fft // 2`` at both
ends), one-sided, no normalisation, and an inverse without a target length (so it returns
``hop x (frames - 1)`` samples). The windows are buffers so the checkpoint's own
(``enc_trans_func.window``, ``dec_trans_func.window``) are the ones used.

Domains (``codec_domain`` in FunCodec's ``model_conf``):

- ``mag_phase``: log-magnitude, and the real and imaginary parts of the unit phasor (3 planes);
  decoded as softplus(magnitude) x (real + j imag).
- ``mag_angle``: log-magnitude and the phase angle (2 planes); decoded with angle = pi sin(out).
- ``stft``: real and imaginary parts (2 planes), decoded as they are.
- ``mag`` (encoder only): the magnitude (1 plane).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from codecbench.codecs.freqcodec.config import SpectralConfig

_MAGNITUDE_FLOOR = 1e-6


class SpectralAnalysis(nn.Module):
    """Waveform ``[B, L]`` to encoder input ``[B, C, n_fft // 2 + 1, 1 + L // hop]``."""

    def __init__(self, config: SpectralConfig):
        super().__init__()
        self.domain = config.encoder_domain
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.register_buffer("window", torch.hann_window(config.n_fft))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            waveform, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
            window=self.window, center=True, pad_mode="reflect", normalized=False, onesided=True,
            return_complex=True,
        )
        if self.domain == "stft":
            planes = [spectrum.real, spectrum.imag]
        elif self.domain == "mag":
            planes = [spectrum.abs()]
        else:
            magnitude = torch.abs(spectrum)
            log_magnitude = torch.log(torch.clamp(magnitude, min=_MAGNITUDE_FLOOR))
            if self.domain == "mag_angle":
                planes = [log_magnitude, torch.angle(spectrum)]
            else:  # mag_phase
                phasor = spectrum / torch.clamp(magnitude, min=_MAGNITUDE_FLOOR)
                planes = [log_magnitude, phasor.real, phasor.imag]
        return torch.stack(planes, dim=1)


class SpectralSynthesis(nn.Module):
    """Decoder output ``[B, C, n_fft // 2 + 1, T]`` to waveform ``[B, hop x (T - 1)]``."""

    def __init__(self, config: SpectralConfig):
        super().__init__()
        self.domain = config.decoder_domain
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.register_buffer("window", torch.hann_window(config.n_fft))

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        if self.domain == "stft":
            spectrum = torch.complex(planes[:, 0], planes[:, 1])
        elif self.domain == "mag_phase":
            magnitude = F.softplus(planes[:, 0])
            spectrum = magnitude * torch.complex(planes[:, 1], planes[:, 2])
        else:  # mag_angle
            magnitude = F.softplus(planes[:, 0])
            angle = torch.sin(planes[:, 1]) * torch.pi
            spectrum = torch.complex(torch.cos(angle) * magnitude, torch.sin(angle) * magnitude)
        return torch.istft(
            spectrum, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
            window=self.window, center=True, normalized=False, onesided=True, return_complex=False,
        )
