"""Tiny random checkpoints in each upstream format, and a Hub cache laid out as huggingface_hub does.

Tests load these through the same code path users take: the registry finds them in the
codecbench Hub cache (or a ``--model-dir``), and the codecs load them with transformers or
convert them from FunCodec's format. The architectures keep the real models' token layout
(hop, codebook count and size) with very few channels, so they are small and fast.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

# --------------------------------------------------------------------------- transformers


def save_tiny_encodec_24khz(directory: Path, seed: int = 0) -> Path:
    """``facebook/encodec_24khz``'s layout (75 frames/s, 32 codebooks of 1024) with 4 filters."""
    from transformers import EncodecConfig, EncodecModel

    torch.manual_seed(seed)
    config = EncodecConfig(hidden_size=8, num_filters=4, codebook_dim=8)
    model = EncodecModel(config)
    with torch.no_grad():  # transformers initialises codebooks to zeros; give them entries to pick
        for layer in model.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    model.save_pretrained(directory)
    return directory


def save_tiny_dac(directory: Path, downsampling_ratios: list[int], n_codebooks: int, seed: int = 0) -> Path:
    """A DAC with the given hop and codebooks, 4 encoder channels and 16 decoder channels."""
    from transformers import DacConfig, DacModel

    torch.manual_seed(seed)
    config = DacConfig(
        encoder_hidden_size=4, decoder_hidden_size=16, downsampling_ratios=downsampling_ratios,
        n_codebooks=n_codebooks, codebook_dim=8,
    )
    DacModel(config).save_pretrained(directory)
    return directory


# ------------------------------------------------------------------------------- FunCodec


def funcodec_config(
    *,
    ratios: tuple[int, ...] = (8, 5, 4, 2, 2),
    n_filters: int = 2,
    dimension: int = 8,
    codebook_size: int = 1024,
    num_quantizers: int = 32,
    norm: str = "time_group_norm",
    causal: bool = False,
    **model_conf: Any,
) -> dict[str, Any]:
    """A FunCodec EnCodec-type ``config.yaml`` as FunCodec's LibriTTS recipe writes it, made small."""
    hop = math.prod(ratios)
    seanet = {"ratios": list(ratios), "norm": norm, "causal": causal, "n_filters": n_filters}
    return {
        "input_size": 1,
        "use_preprocessor": True,
        "sampling_rate": 16000,
        "encoder": "encodec_seanet_encoder",
        "encoder_conf": {**seanet, "dimension": dimension},
        "quantizer": "costume_quantizer",
        "quantizer_conf": {
            "codebook_size": codebook_size, "num_quantizers": num_quantizers, "ema_decay": 0.99,
            "kmeans_init": True, "sampling_rate": 16000, "quantize_dropout": True,
            "rand_num_quant": [2, 4, 8, 16, 32], "use_ddp": True, "encoder_hop_length": hop,
        },
        "decoder": "encodec_seanet_decoder",
        "decoder_conf": dict(seanet),
        "discriminator": "multiple_disc",
        "discriminator_conf": {"disc_conf_list": [{"name": "encodec_multi_scale_stft_discriminator", "filters": 32}]},
        "model": "encodec",
        "model_conf": {
            "odim": 128, "multi_spectral_window_powers_of_two": [5, 6, 7, 8, 9, 10], "target_sample_hz": 16000,
            "audio_normalize": True, "use_power_spec_loss": True, "segment_dur": None, "overlap_ratio": None,
            **model_conf,
        },
        "optim": "adam",
        "optim_conf": {"lr": 0.0003, "betas": [0.5, 0.9]},
    }


def funcodec_state_dict(config: dict[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under FunCodec's own key names and shapes, for ``config``.

    The names follow FunCodec's modules: ``SEANetEncoder``/``SEANetDecoder`` (``model.N``
    Sequential of ``SConv1d`` -> ``NormConv1d`` (``conv.conv``, ``conv.norm``),
    ``SConvTranspose1d`` (``convtr.convtr``, ``convtr.norm``), ``SEANetResnetBlock``
    (``block.1``, ``block.3``, ``shortcut``), ``SLSTM`` (``lstm``)), ``CostumeQuantizer`` with
    the DDP residual VQ (``quantizer.rq.model`` stacked buffers), plus training-only
    discriminator and mel-filter keys. Values come from a seeded numpy generator, so the same
    seed gives the same weights on every machine.
    """
    rng = np.random.default_rng(seed)
    state: dict[str, torch.Tensor] = {}
    encoder_conf, decoder_conf = config["encoder_conf"], config["decoder_conf"]
    ratios = encoder_conf["ratios"]
    nf, dimension = encoder_conf["n_filters"], encoder_conf["dimension"]
    weight_norm = encoder_conf["norm"] == "weight_norm"

    def tensor(*shape: int, scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
        return torch.from_numpy((offset + scale * rng.standard_normal(shape)).astype(np.float32))

    def conv(prefix: str, out_ch: int, in_ch: int, kernel: int, transposed: bool = False) -> None:
        wrapper = "convtr" if transposed else "conv"
        shape = (in_ch, out_ch, kernel) if transposed else (out_ch, in_ch, kernel)
        weight = tensor(*shape, scale=1 / math.sqrt(in_ch * kernel))
        if weight_norm:  # torch.nn.utils.weight_norm's parameters, as FunCodec saves them
            dims = tuple(range(1, 3))
            state[f"{prefix}.{wrapper}.{wrapper}.weight_g"] = weight.norm(dim=dims, keepdim=True)
            state[f"{prefix}.{wrapper}.{wrapper}.weight_v"] = weight
        else:
            state[f"{prefix}.{wrapper}.{wrapper}.weight"] = weight
        state[f"{prefix}.{wrapper}.{wrapper}.bias"] = tensor(out_ch, scale=0.05)
        if not weight_norm:  # time_group_norm: GroupNorm(1, out_ch)
            state[f"{prefix}.{wrapper}.norm.weight"] = tensor(out_ch, scale=0.1, offset=1.0)
            state[f"{prefix}.{wrapper}.norm.bias"] = tensor(out_ch, scale=0.1)

    def resblock(prefix: str, dim: int) -> None:
        hidden = dim // 2
        conv(f"{prefix}.block.1", hidden, dim, 3)
        conv(f"{prefix}.block.3", dim, hidden, 1)
        conv(f"{prefix}.shortcut", dim, dim, 1)

    def lstm(prefix: str, dim: int, layers: int = 2) -> None:
        for layer in range(layers):
            for kind in ("ih", "hh"):
                state[f"{prefix}.lstm.weight_{kind}_l{layer}"] = tensor(4 * dim, dim, scale=1 / math.sqrt(dim))
                state[f"{prefix}.lstm.bias_{kind}_l{layer}"] = tensor(4 * dim, scale=0.05)

    index, mult = 0, 1
    conv(f"encoder.model.{index}", nf, 1, 7)
    for ratio in reversed(ratios):
        resblock(f"encoder.model.{index + 1}", mult * nf)
        conv(f"encoder.model.{index + 3}", 2 * mult * nf, mult * nf, 2 * ratio)  # index + 2 is the ELU
        index, mult = index + 3, mult * 2
    lstm(f"encoder.model.{index + 1}", mult * nf)
    conv(f"encoder.model.{index + 3}", dimension, mult * nf, 7)

    mult = 2 ** len(ratios)
    conv("decoder.model.0", mult * nf, dimension, 7)
    lstm("decoder.model.1", mult * nf)
    index = 1
    for ratio in decoder_conf["ratios"]:
        conv(f"decoder.model.{index + 2}", mult * nf // 2, mult * nf, 2 * ratio, transposed=True)
        resblock(f"decoder.model.{index + 3}", mult * nf // 2)
        index, mult = index + 3, mult // 2
    conv(f"decoder.model.{index + 2}", 1, nf, 7)

    quantizer = config["quantizer_conf"]
    num_q, bins = quantizer["num_quantizers"], quantizer["codebook_size"]
    embed = tensor(num_q, bins, dimension)
    state["quantizer.rq.model.inited"] = torch.ones(num_q, 1)
    state["quantizer.rq.model.cluster_size"] = torch.from_numpy(rng.uniform(0.5, 5.0, (num_q, bins)).astype(np.float32))
    state["quantizer.rq.model.embed"] = embed
    state["quantizer.rq.model.embed_avg"] = embed.clone()

    # Training-only modules FunCodec saves along: the STFT discriminator and the mel filters.
    state["discriminator.discriminators.0.discriminators.0.convs.0.conv.weight_g"] = tensor(32, 1, 1, 1)
    state["discriminator.discriminators.0.discriminators.0.convs.0.conv.weight_v"] = tensor(32, 2, 3, 9)
    state["discriminator.discriminators.0.discriminators.0.conv_post.conv.bias"] = tensor(1)
    state["mel_spec_transforms.0.mel_basis"] = tensor(64, 17)
    state["mel_spec_transforms.0.window"] = tensor(32)
    return state


def save_funcodec_model(directory: Path, config: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Write ``config.yaml`` and ``model.pth`` as a FunCodec model directory holds them."""
    config = config if config is not None else funcodec_config()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    torch.save(funcodec_state_dict(config, seed), directory / "model.pth")
    return directory


# ------------------------------------------------------------------------------ Hub cache

_COMMIT = re.compile(r"[0-9a-f]{40}")


def install_in_hub_cache(cache_dir: Path, repo_id: str, revision: str, source: Path) -> Path:
    """Put the files of ``source`` into ``cache_dir`` as ``snapshot_download`` leaves them.

    ``models--owner--name/blobs/<sha256>`` holds the content, ``snapshots/<commit>/<file>``
    links to it, and for a branch revision ``refs/<branch>`` names the commit.
    """
    repo_folder = cache_dir / f"models--{repo_id.replace('/', '--')}"
    commit = revision if _COMMIT.fullmatch(revision) else hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
    if commit != revision:
        (repo_folder / "refs").mkdir(parents=True, exist_ok=True)
        (repo_folder / "refs" / revision).write_text(commit)
    snapshot = repo_folder / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_folder / "blobs").mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        data = path.read_bytes()
        blob = repo_folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / path.name
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..", "..", "blobs", blob.name))
    return snapshot
