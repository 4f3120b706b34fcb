"""Descript Audio Codec (DAC) through ``transformers.DacModel``: the 16, 24 and 44.1 kHz models.

Each is one registry entry: a spec (frame rate, codebooks) and a Hub checkpoint. Clips are
padded with zeros to a whole number of frames before encoding, as DAC's own ``preprocess``
does. The model is not causal, so only clips of one padded length share a batch.

DAC's published ``config.json`` files have carried wrong ``sampling_rate`` values at some
revisions (``dac_44khz`` says 16000 at 90ce0f9); the model never reads it, and codecbench
takes the rate from the entry instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from codecbench.codecs.base import CodecSpec, LoadOptions
from codecbench.codecs.checkpoints import HubCheckpoint, Weights, weights_dir
from codecbench.codecs.token_codec import BatchLimits, TorchTokenCodec, check_model_matches_spec, token_operating_points

DAC_FILES = ("config.json", "model.safetensors")


@dataclass(frozen=True)
class DacVariant:
    """One published DAC model."""

    name: str
    sample_rate_hz: int
    hop_length: int
    codebook_counts: tuple[int, ...]
    hub: HubCheckpoint

    @property
    def spec(self) -> CodecSpec:
        frame_rate_hz = self.sample_rate_hz / self.hop_length
        return CodecSpec(
            name=self.name,
            family="neural",
            description=f"DAC {self.sample_rate_hz / 1000:g} kHz (Descript, {self.hub.repo_id}), {frame_rate_hz:.4g} frames/s",
            sample_rate_hz=self.sample_rate_hz,
            operating_points=token_operating_points(frame_rate_hz, 1024, self.codebook_counts),
        )

    @property
    def weights(self) -> Weights:
        return Weights(files=DAC_FILES, hub=self.hub)

    def load(self, options: LoadOptions) -> TransformersDacCodec:
        directory = weights_dir(self.weights, options)
        model = load_dac_model(directory, options.device)
        spec = self.spec
        config = model.config
        if config.hop_length != self.hop_length:
            raise ValueError(f"the model in {directory} has a hop of {config.hop_length} samples, but {self.name} one of {self.hop_length}")
        check_model_matches_spec(spec, self.sample_rate_hz / config.hop_length, config.codebook_size, config.n_codebooks, str(directory))
        return TransformersDacCodec(spec, model, options.device)


# dac_16khz is pinned to the commit that added its sampling_rate; the 24 and 44.1 kHz
# repositories are pinned to "main" (no full commit hash could be confirmed; see README).
DAC_VARIANTS = (
    DacVariant("dac_16khz", 16_000, 320, (2, 4, 6, 8, 12), HubCheckpoint("descript/dac_16khz", "ee7fea419a0c7a7d992355138d97a82cacc8714d")),
    DacVariant("dac_24khz", 24_000, 320, (2, 4, 8, 16, 32), HubCheckpoint("descript/dac_24khz", "main")),
    DacVariant("dac_44khz", 44_100, 512, (2, 4, 6, 9), HubCheckpoint("descript/dac_44khz", "main")),
)


class TransformersDacCodec(TorchTokenCodec):
    """A loaded ``transformers.DacModel`` (eval mode, on ``device``)."""

    def __init__(self, spec: CodecSpec, model, device: str, batch_limits: BatchLimits | None = None) -> None:
        super().__init__(
            spec,
            device=device,
            hop_length=model.config.hop_length,
            pads_safely=False,
            pad_to_frames=True,
            batch_limits=batch_limits,
        )
        self.model = model

    def _encode_batch_tensor(self, audio, num_codebooks: int):
        return self.model.encode(audio, n_quantizers=num_codebooks).audio_codes, None

    def _decode_batch_tensor(self, codes, scales):
        return self.model.decode(audio_codes=codes).audio_values


def load_dac_model(directory: Path, device: str):
    """``DacModel`` from a ``save_pretrained`` directory, in eval mode on ``device``."""
    from transformers import DacModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        model = DacModel.from_pretrained(directory, local_files_only=True)
    except Exception as error:  # transformers and safetensors raise many kinds for a bad directory
        raise ValueError(f"cannot load the DAC model in {directory}: {error}") from None
    if math.prod(model.config.downsampling_ratios) != model.config.hop_length:
        raise ValueError(f"the DAC model in {directory} has an inconsistent hop length")
    return model.eval().to(device)
