"""Tiny random FACodec model directories in Amphion's checkpoint layout, built by the tests.

The checkpoints are what ``torch.save(model.state_dict(), ...)`` of Amphion's classes writes:
upstream key names (``weight_g``/``weight_v``, ``block.N``, ``quantizer.N.layers.M._codebook``,
``position_emb.pe``, ...), including tensors of the decoder's training-only heads, which
loading must skip. They are made from our own modules through the key map, plus those heads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from codecbench.codecs.facodec import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    FACodecConfig,
)
from codecbench.codecs.facodec.checkpoint import upstream_state_dict
from codecbench.codecs.facodec.model import FACodecModel

TINY_TRANSFORMER = {
    "encoder_layer": 1,
    "encoder_hidden": 16,
    "encoder_head": 2,
    "conv_filter_size": 32,
    "conv_kernel_size": 5,
    "max_len": 16,
}
TINY_CONFIG = {
    "encoder": {"ngf": 4, "up_ratios": [2, 4, 5, 5], "out_channels": 16},
    "decoder": {
        "in_channels": 16,
        "upsample_initial_channel": 32,
        "ngf": 4,
        "up_ratios": [5, 5, 4, 2],
        "vq_num_q_c": 2,
        "vq_num_q_p": 1,
        "vq_num_q_r": 3,
        "vq_dim": 16,
        "codebook_dim": 4,
        "codebook_size_prosody": 10,
        "codebook_size_content": 10,
        "codebook_size_residual": 10,
        "use_gr_x_timbre": True,
        "use_gr_residual_f0": True,
        "use_gr_residual_phone": True,
        # Upstream's training arguments are accepted and ignored.
        "vq_commit_weight": 0.005,
        "timbre_encoder": TINY_TRANSFORMER,
    },
    "redecoder": {
        "in_channels": 16,
        "upsample_initial_channel": 32,
        "up_ratios": [5, 5, 4, 2],
        "vq_dim": 16,
        "timbre_cond_prosody_enc": TINY_TRANSFORMER,
    },
}


def training_only_tensors(in_channels: int = 16) -> dict[str, torch.Tensor]:
    """A few tensors of each training-only head the tiny config declares, named as upstream's.

    ``f0_predictor``/``phone_predictor`` are upstream ``CNNLSTM`` modules; the gradient-reversal
    heads wrap one in ``nn.Sequential(GradientReversal, CNNLSTM)``, hence the ``.1.``.
    """
    heads = {
        "f0_predictor.": 1,
        "phone_predictor.": 11,
        "res_f0_predictor.1.": 1,
        "res_phone_predictor.1.": 11,
        "x_timbre_predictor.1.": 23,  # the speaker classifier (245,200 classes when published)
    }
    tensors = {}
    for prefix, classes in heads.items():
        tensors[prefix + "model.0.block.0.act.alpha"] = torch.randn(in_channels)
        tensors[prefix + "model.0.block.1.weight_g"] = torch.rand(in_channels, 1, 1)
        tensors[prefix + "model.0.block.1.weight_v"] = torch.randn(in_channels, in_channels, 7)
        tensors[prefix + "model.0.block.1.bias"] = torch.randn(in_channels)
        tensors[prefix + "heads.0.weight"] = torch.randn(classes, in_channels)
        tensors[prefix + "heads.0.bias"] = torch.randn(classes)
    return tensors


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Seeded random values in every parameter, including those upstream initialises to constants.

    The values come from numpy's generator, which gives the same numbers on every machine, so
    the weights a seed gives are the ones tests/data/facodec_reference.npz was made from.
    """
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            for name, parameter in module.named_parameters(recurse=False):
                noise = rng.standard_normal(tuple(parameter.shape))
                if name in ("alpha", "beta"):  # SnakeBeta, log scale
                    value = 0.3 * noise
                elif name == "weight_g":  # weight norm: the norm of each output's filter
                    value = 1 + 0.2 * np.abs(noise)
                    if module_name.endswith("generator.output_conv"):
                        value *= 0.01  # keep the output mostly inside tanh's range, as speech is
                elif name.endswith("bias"):
                    value = 0.05 * noise
                elif isinstance(module, torch.nn.LayerNorm):
                    value = 1 + 0.1 * noise
                elif isinstance(module, torch.nn.Embedding):  # codebooks, code embeddings
                    value = noise
                else:  # weight_v and plain weights: unit-variance outputs for unit-variance inputs
                    value = noise / np.sqrt(np.prod(parameter.shape[1:]))
                parameter.copy_(torch.from_numpy(value.astype(np.float32)))


def write_tiny_facodec(
    model_dir: Path, *, seed: int = 0, with_redecoder: bool = True, legacy_format: bool = False
) -> FACodecModel:
    """Write a tiny random FACodec directory; returns the in-memory model it was saved from."""
    model_dir.mkdir(parents=True, exist_ok=True)
    model = FACodecModel(FACodecConfig.from_dict(TINY_CONFIG))
    randomise(model, seed)
    save_options = {"_use_new_zipfile_serialization": False} if legacy_format else {}
    torch.save(upstream_state_dict(model.encoder), model_dir / ENCODER_FILENAME, **save_options)
    decoder_state = {**upstream_state_dict(model.decoder), **training_only_tensors()}
    torch.save(decoder_state, model_dir / DECODER_FILENAME, **save_options)
    if with_redecoder:
        torch.save(upstream_state_dict(model.redecoder), model_dir / REDECODER_FILENAME, **save_options)
    (model_dir / CONFIG_FILENAME).write_text(json.dumps(TINY_CONFIG, indent=1), encoding="utf-8")
    return model


def use_tiny_facodec_for_the_hub_entry(monkeypatch) -> None:
    """Make the ``facodec`` entry build :data:`TINY_CONFIG` for its Hub snapshot (in this process).

    The entry builds the published architecture there (it reads no config.json from the Hub);
    tests cache tiny checkpoints instead of 65 M random values.
    """
    from codecbench.codecs.facodec import entry

    monkeypatch.setattr(entry, "FACODEC_HUB_CONFIG", FACodecConfig.from_dict(TINY_CONFIG))
