"""Tiny random FreqCodec model directories in FunCodec's layout, for tests.

``config.yaml`` is the whole training namespace FunCodec writes (architecture plus optimiser,
discriminator and loss settings); ``model.pth`` is a state dict with FunCodec's key names,
including the keys only training uses (discriminator, mel-loss transforms, codebook EMA
statistics), so loading goes through exactly the path a published model takes.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
import yaml

from codecbench.codecs.freqcodec import CheckpointReport, FreqCodecConfig, FreqCodecModel, load_model
from codecbench.codecs.freqcodec.upstream_config import config_from_funcodec

# FunCodec's magnitude-phase FreqCodec recipe, egs/LibriTTS/codec/conf/freqcodec_mag_phase_16k_n32_600k_step.yaml
# (its architecture leaves n_filters 32, dimension 128 and the group ratios at their defaults).
_EXAMPLE: dict[str, Any] = {
    "input_size": 3,
    "use_preprocessor": True,
    "speech_max_length": 40800,
    "sampling_rate": 16000,
    "frontend": None,
    "frontend_conf": {},
    "normalize": None,
    "encoder": "encodec_seanet_encoder_2d",
    "encoder_conf": {
        "ratios": [[4, 1], [4, 1], [4, 2], [4, 1]], "norm": "time_group_norm", "norm_params": {"num_groups": 1},
        "causal": False, "dilation_base": 1,
    },
    "quantizer": "costume_quantizer",
    "quantizer_conf": {
        "codebook_size": 1024, "num_quantizers": 32, "ema_decay": 0.99, "kmeans_init": True,
        "sampling_rate": 16000, "quantize_dropout": True, "rand_num_quant": [1, 2, 4, 8, 16, 32],
        "use_ddp": True, "encoder_hop_length": 320,
    },
    "decoder": "encodec_seanet_decoder_2d",
    "decoder_conf": {
        "ratios": [[4, 1], [4, 1], [4, 2], [4, 1]], "norm": "time_group_norm", "norm_params": {"num_groups": 1},
        "causal": False, "channels": 3, "dilation_base": 1,
    },
    "discriminator": "multiple_disc",
    "discriminator_conf": {"disc_conf_list": [{"name": "encodec_multi_scale_stft_discriminator", "filters": 32}]},
    "model": "freq_codec",
    "model_conf": {
        "odim": 128, "multi_spectral_window_powers_of_two": [5, 6, 7, 8, 9, 10], "target_sample_hz": 16000,
        "audio_normalize": True, "use_power_spec_loss": True, "segment_dur": None, "overlap_ratio": None,
        "codec_domain": ["mag_phase", "mag_phase"],
    },
    "optim": "adam",
    "optim_conf": {"lr": 0.0003, "betas": [0.5, 0.9]},
    "optim2": "adam",
    "optim2_conf": {"lr": 0.0003, "betas": [0.5, 0.9]},
    "num_iters_per_epoch": 10000,
    "max_epoch": 60,
    "batch_size": 16,
    "seed": 0,
}
# Tests shrink it: 4 filters and an 8-wide code instead of 32 and 128, all convolutions grouped
# (group ratio 1), and spell out the STFT FunCodec defaults to. Rates, ratios, codebooks and bit
# widths stay the real ds320 ones.
_TINY = {
    "encoder_conf": {"n_filters": 4, "dimension": 8, "conv_group_ratio": 1},
    "decoder_conf": {"n_filters": 4, "conv_group_ratio": 1, "tr_conv_group_ratio": 1},
    "model_conf": {"domain_conf": {"n_fft": 512, "hop_length": 160}},
}

#: Plane counts of each spectral domain on the encoder and decoder side.
DOMAIN_CHANNELS = {"mag_phase": 3, "mag_angle": 2, "stft": 2}


def example_config_document(conv_group_ratio: int = -1) -> dict[str, Any]:
    """FunCodec's example FreqCodec config at full size; a ``conv_group_ratio`` > 0 sets it, and
    ``tr_conv_group_ratio``, in the encoder and the decoder (as the published gr8/gr1 names suggest)."""
    document = copy.deepcopy(_EXAMPLE)
    if conv_group_ratio > 0:
        document["encoder_conf"]["conv_group_ratio"] = conv_group_ratio
        document["decoder_conf"].update(conv_group_ratio=conv_group_ratio, tr_conv_group_ratio=conv_group_ratio)
    return document


def freqcodec_config_document(domain: str = "mag_phase", **sections: dict[str, Any]) -> dict[str, Any]:
    """A FunCodec ``config.yaml`` mapping for a tiny FreqCodec; ``sections`` update its ``*_conf`` parts."""
    document = copy.deepcopy(_EXAMPLE)
    for section, changes in _TINY.items():
        document[section].update(changes)
    document["input_size"] = DOMAIN_CHANNELS[domain]
    document["decoder_conf"]["channels"] = DOMAIN_CHANNELS[domain]
    document["model_conf"]["codec_domain"] = [domain, domain]
    for section, changes in sections.items():
        document[section].update(changes)
    return document


def funcodec_quantizers_for_bit_width(document: dict[str, Any], bit_width_bps: float) -> int:
    """Quantizers FunCodec's inference uses for ``bit_width`` (bps), transcribed from its
    ``ResidualVectorQuantizer.get_num_quantizers_for_bandwidth``: max(1, floor(bit_width / (log2(codebook_size)
    x quantizer_conf.sampling_rate / encoder_hop_length))), sliced to the quantizers there are.

    codecbench never uses this rule: its operating points come from the model's frame rate. Tests
    use it to check the two agree, and to run the bit widths FunCodec's reference outputs were made at.
    """
    conf = document["quantizer_conf"]
    per_quantizer_bps = (
        math.log2(conf.get("codebook_size", 1024)) * conf.get("sampling_rate", 24_000) / conf.get("encoder_hop_length", 320)
    )
    return min(max(1, math.floor(bit_width_bps / per_quantizer_bps)), conf.get("num_quantizers", 8))


def funcodec_state_dict(model: FreqCodecModel, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """``model``'s weights under FunCodec's key names, with the training-only keys FunCodec saves.

    Weight-normed sides get each convolution weight as a ``weight_g``/``weight_v`` pair.
    """
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    weight_normed = tuple(
        side for side, norm in (("encoder.", model.config.encoder.norm), ("decoder.", model.config.decoder.norm))
        if norm == "weight_norm"
    )
    for key, tensor in model.state_dict().items():
        if key == "quantizer.codebooks":
            num_quantizers, codebook_size, _ = tensor.shape
            state["quantizer.rq.model.inited"] = torch.ones(num_quantizers, 1)
            state["quantizer.rq.model.cluster_size"] = torch.rand(num_quantizers, codebook_size, generator=generator)
            state["quantizer.rq.model.embed"] = tensor.clone()
            state["quantizer.rq.model.embed_avg"] = tensor.clone()
        elif key == "analysis.window":
            state["enc_trans_func.window"] = tensor.clone()
        elif key == "synthesis.window":
            state["dec_trans_func.window"] = tensor.clone()
        elif key.startswith(weight_normed) and key.endswith(("conv.conv.weight", "convtr.convtr.weight")):
            direction = 2.0 * tensor  # any positive multiple: the norm is divided out
            magnitude = tensor.reshape(tensor.shape[0], -1).norm(dim=1).reshape(-1, *[1] * (tensor.dim() - 1))
            state[key[: -len("weight")] + "weight_g"] = magnitude
            state[key[: -len("weight")] + "weight_v"] = direction
        else:
            state[key] = tensor.clone()
    state.update(training_only_tensors(generator))
    return state


def training_only_tensors(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A few of the keys FunCodec's discriminator and spectral loss add to ``model.pth``."""
    disc = "discriminator.discriminators.0.discriminators.0."
    return {
        disc + "convs.0.conv.weight_g": torch.rand(32, 1, 1, 1, generator=generator),
        disc + "convs.0.conv.weight_v": torch.rand(32, 2, 3, 9, generator=generator),
        disc + "conv_post.conv.bias": torch.rand(1, generator=generator),
        "mel_spec_transforms.0.mel_basis": torch.rand(64, 17, generator=generator),
        "mel_spec_transforms.0.window": torch.hann_window(32),
    }


def randomise(model: FreqCodecModel, *, seed: int = 0) -> FreqCodecModel:
    """Overwrite every weight and codebook with values drawn from ``seed`` alone (reproducible):
    weights scaled by 1/sqrt(fan-in), gains and snake slopes near 1, biases near 0."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith(("norm.weight", "alpha")):
                parameter.copy_(1.0 + 0.1 * noise)
            elif parameter.dim() >= 2:
                parameter.copy_(noise / parameter[0].numel() ** 0.5)
            else:
                parameter.copy_(0.1 * noise)
        model.quantizer.codebooks.copy_(0.5 * torch.randn(model.quantizer.codebooks.shape, generator=generator))
    return model


def write_funcodec_model_dir(directory: Path, document: dict[str, Any] | None = None, *, seed: int = 0) -> Path:
    """Write ``config.yaml`` and a random ``model.pth`` in FunCodec's layout into ``directory``."""
    document = document if document is not None else freqcodec_config_document()
    directory.mkdir(parents=True, exist_ok=True)
    model = randomise(FreqCodecModel(config_from_funcodec(document)), seed=seed)
    with (directory / "config.yaml").open("w", encoding="utf-8") as handle:
        yaml.safe_dump(document, handle)
    torch.save(funcodec_state_dict(model, seed=seed), directory / "model.pth")
    return directory


def load_model_dir(directory: Path) -> tuple[FreqCodecModel, CheckpointReport]:
    """Load ``directory``'s ``config.yaml`` and ``model.pth`` as codecbench's FreqCodec codec does."""
    return load_model(FreqCodecConfig.from_upstream(directory / "config.yaml"), directory / "model.pth")
