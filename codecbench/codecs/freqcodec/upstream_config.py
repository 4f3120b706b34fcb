"""Read the ``config.yaml`` FunCodec saves next to a FreqCodec ``model.pth``.

FunCodec writes its whole training namespace to ``config.yaml``. The architecture lives in
``input_size``, ``encoder_conf`` (``encodec_seanet_encoder_2d``), ``quantizer_conf``
(``costume_quantizer``), ``decoder_conf`` (``encodec_seanet_decoder_2d``) and ``model_conf``
(``freq_codec``). Every field of those sections is honoured, skipped as training-only (losses,
EMA settings, structured dropout) or as a mere ``bit_width`` label (``quantizer_conf``'s
``sampling_rate`` and ``encoder_hop_length``), or rejected with a :class:`ValueError` naming it; other
top-level keys (optimisers, data loading, epochs) only concern training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codecbench.codecs.freqcodec.config import (
    Decoder2dConfig,
    Encoder2dConfig,
    FreqCodecConfig,
    QuantizerConfig,
    SpectralConfig,
)

ENCODER_TYPE = "encodec_seanet_encoder_2d"
DECODER_TYPE = "encodec_seanet_decoder_2d"
QUANTIZER_TYPE = "costume_quantizer"
MODEL_TYPE = "freq_codec"

# Fields that only shape training (losses, discriminator inputs, EMA codebook updates,
# structured dropout) and never the inference path.
_TRAINING_ONLY_MODEL_FIELDS = frozenset({
    "odim", "multi_spectral_window_powers_of_two", "multi_spectral_n_mels", "recon_loss_weight",
    "multi_spectral_recon_loss_weight", "adversarial_loss_weight", "feat_match_loss_weight",
    "enc_quant_loss_weight", "use_power_spec_loss", "phase_invariant_training",
    "pit_feat_loss_weight", "pit_disc_loss_weight", "feat_match_layer_start",
})
_TRAINING_ONLY_QUANTIZER_FIELDS = frozenset({"ema_decay", "kmeans_init", "quantize_dropout", "rand_num_quant", "use_ddp"})
# Fields FunCodec only divides its ``bit_width`` argument by (bits per second per quantizer =
# log2(codebook_size) x sampling_rate / encoder_hop_length). codecbench's operating points come
# from the model's real frame rate and quantizer count, so these labels never matter.
_BIT_WIDTH_LABEL_FIELDS = frozenset({"sampling_rate", "encoder_hop_length"})


def _ratio_pairs(value: Any, name: str) -> tuple[tuple[int, int], ...]:
    try:
        pairs = tuple((int(freq), int(time)) for freq, time in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of [freq_ratio, time_ratio] pairs, got {value!r}") from None
    if not pairs or any(freq < 1 or time < 1 for freq, time in pairs):
        raise ValueError(f"{name} must be a non-empty list of positive [freq, time] ratios, got {value!r}")
    return pairs


def _kernel_pair(value: Any, name: str) -> tuple[int, int]:
    """A 2-D kernel size as FunCodec's ``tuple_it`` reads it: an int, or the first two of a list."""
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, (list, tuple)) and len(value) >= 2:
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or a [freq, time] pair, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def _take(conf: Mapping[str, Any], section: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """``conf`` restricted to ``known`` keys (renamed via ``known``); other keys are an error."""
    unknown = sorted(set(conf) - set(known))
    if unknown:
        raise ValueError(f"{section} has fields this FreqCodec implementation does not support: {unknown}")
    return {known[key]: value for key, value in conf.items() if known[key] is not None}


_SEANET_FIELDS = {
    "n_filters": "n_filters", "n_residual_layers": "n_residual_layers", "ratios": "ratios",
    "activation": "activation", "activation_params": "activation_params", "norm": "norm",
    "norm_params": "norm_params", "kernel_size": "kernel_size", "last_kernel_size": "last_kernel_size",
    "residual_kernel_size": "residual_kernel_size", "dilation_base": "dilation_base", "causal": "causal",
    "pad_mode": "pad_mode", "true_skip": "true_skip", "compress": "compress", "seq_model": "seq_model",
    "seq_layer_num": "seq_layer_num", "res_seq": "res_seq", "conv_group_ratio": "conv_group_ratio",
}


def _seanet_kwargs(conf: Mapping[str, Any], section: str, extra: Mapping[str, str],
                   first_conv_is_1d: bool) -> dict[str, Any]:
    """Keyword arguments for :class:`SEANet2dConfig` and its subclasses from one ``*_conf`` section.

    ``first_conv_is_1d``: the decoder's first convolution (``kernel_size``) is 1-D and needs an int.
    """
    kwargs = _take(conf, section, {**_SEANET_FIELDS, **extra})
    if "ratios" in kwargs:
        kwargs["ratios"] = _ratio_pairs(kwargs["ratios"], f"{section}.ratios")
    if "kernel_size" in kwargs:
        if first_conv_is_1d and not isinstance(kwargs["kernel_size"], int):
            raise ValueError(f"{section}.kernel_size must be an int, got {kwargs['kernel_size']!r}")
        kwargs["kernel_size"] = _kernel_pair(kwargs["kernel_size"], f"{section}.kernel_size")
    if not isinstance(kwargs.get("last_kernel_size", 7), int):
        raise ValueError(f"{section}.last_kernel_size must be an int, got {kwargs['last_kernel_size']!r}")
    if "seq_model" in kwargs and kwargs["seq_model"] in ("none", "None", ""):
        kwargs["seq_model"] = None
    for mapping_field in ("activation_params", "norm_params", "final_activation_params"):
        if kwargs.get(mapping_field) is None and mapping_field in kwargs:
            kwargs[mapping_field] = {}
    return kwargs


def read_funcodec_config(path: str | Path) -> FreqCodecConfig:
    """Parse FunCodec's ``config.yaml`` at ``path``.

    Raises:
        ValueError: the file is missing, unreadable, not YAML or not a FreqCodec config codecbench
            can run; the message names the file and what is wrong with it.
    """
    import yaml

    path = Path(path)
    try:
        with path.open("r", encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(
            f"cannot read the FreqCodec config {path} ({reason}): the model directory must hold the "
            "config.yaml and model.pth of a FunCodec FreqCodec model"
        ) from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} does not hold a FunCodec config (expected a mapping at the top)")
    try:
        return config_from_funcodec(document)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def config_from_funcodec(document: Mapping[str, Any]) -> FreqCodecConfig:
    """Build a :class:`FreqCodecConfig` from the parsed ``config.yaml`` mapping."""
    model_type = document.get("model")
    if model_type != MODEL_TYPE:
        raise ValueError(
            f"model is {model_type!r}, not {MODEL_TYPE!r}: this is not a FreqCodec config "
            "(load FunCodec's EnCodec-type models with the funcodec codec: -c funcodec --model-dir DIR)"
        )
    for section, expected in (("encoder", ENCODER_TYPE), ("decoder", DECODER_TYPE), ("quantizer", QUANTIZER_TYPE)):
        if document.get(section) != expected:
            raise ValueError(f"{section} is {document.get(section)!r}; FreqCodec support covers {expected!r} only")
    for unsupported in ("frontend", "normalize"):
        if document.get(unsupported) is not None:
            raise ValueError(
                f"{unsupported} {document[unsupported]!r} is not supported (FreqCodec configs leave it null)"
            )
    if document.get("input_size") is None:
        raise ValueError("input_size is missing: FreqCodec configs give the encoder's spectral channels there")

    model_conf = dict(document.get("model_conf") or {})
    training_only = {key: None for key in _TRAINING_ONLY_MODEL_FIELDS}
    model_kwargs = _take(model_conf, "model_conf", {
        **training_only, "target_sample_hz": "target_sample_hz", "audio_normalize": "audio_normalize",
        "segment_dur": "segment_dur", "overlap_ratio": "overlap_ratio", "bypass_quantizer": "bypass_quantizer",
        "codec_domain": "codec_domain", "domain_conf": "domain_conf",
    })
    # FunCodec's own default for segment_dur is 1.0 s (chunked encoding with overlap-add).
    if model_kwargs.get("segment_dur", 1.0) is not None:
        raise ValueError(
            f"model_conf.segment_dur {model_kwargs.get('segment_dur', 1.0)!r}: segmented encoding is not "
            "supported (the published FreqCodec models set it to null)"
        )
    if model_kwargs.get("bypass_quantizer", False):
        raise ValueError("model_conf.bypass_quantizer is true: such a model emits no codes")
    domain = model_kwargs.get("codec_domain", ("time", "time"))
    if not isinstance(domain, (list, tuple)) or len(domain) != 2:
        raise ValueError(f"model_conf.codec_domain must be a pair [encoder, decoder], got {domain!r}")
    domain_conf = _take(model_kwargs.get("domain_conf") or {}, "model_conf.domain_conf",
                        {"n_fft": "n_fft", "hop_length": "hop_length"})
    spectral = SpectralConfig(encoder_domain=domain[0], decoder_domain=domain[1], **domain_conf)
    sample_rate_hz = int(model_kwargs.get("target_sample_hz", 24_000))

    encoder = Encoder2dConfig(
        input_channels=int(document["input_size"]),
        **_seanet_kwargs(document.get("encoder_conf") or {}, "encoder_conf", {"dimension": "dimension"},
                         first_conv_is_1d=False),
    )
    quantizer_conf = dict(document.get("quantizer_conf") or {})
    if quantizer_conf.get("q0_ds_ratio", 1) != 1:
        raise ValueError(f"quantizer_conf.q0_ds_ratio {quantizer_conf['q0_ds_ratio']} is not supported (only 1)")
    if not quantizer_conf.get("use_ddp", True):
        # FunCodec's non-DDP ResidualVectorQuantization rejects the q0_ds_ratio argument its own
        # CostumeQuantizer always passes, so no such model can have been trained with this code.
        raise ValueError("quantizer_conf.use_ddp false is not supported (FunCodec itself cannot build it)")
    quantizer_kwargs = _take(quantizer_conf, "quantizer_conf", {
        **{key: None for key in _TRAINING_ONLY_QUANTIZER_FIELDS | _BIT_WIDTH_LABEL_FIELDS}, "q0_ds_ratio": None,
        "codebook_size": "codebook_size", "num_quantizers": "num_quantizers", "codec_dim": "code_dimension",
        "codec_range": "code_range",
    })
    quantizer = QuantizerConfig(input_dimension=encoder.dimension, **quantizer_kwargs)
    decoder_kwargs = _seanet_kwargs(document.get("decoder_conf") or {}, "decoder_conf", {
        "channels": "output_channels", "final_activation": "final_activation",
        "final_activation_params": "final_activation_params", "trim_right_ratio": "trim_right_ratio",
        "last_out_padding": "last_out_padding", "tr_conv_group_ratio": "tr_conv_group_ratio",
    }, first_conv_is_1d=True)
    if "last_out_padding" in decoder_kwargs:
        decoder_kwargs["last_out_padding"] = _out_padding(decoder_kwargs["last_out_padding"])
    decoder = Decoder2dConfig(input_dimension=encoder.dimension, **decoder_kwargs)
    return FreqCodecConfig(
        sample_rate_hz=sample_rate_hz,
        audio_normalize=bool(model_kwargs.get("audio_normalize", False)),
        spectral=spectral,
        encoder=encoder,
        quantizer=quantizer,
        decoder=decoder,
    )


def _out_padding(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``last_out_padding`` as upstream reads it: an int for all four sides, or two pairs."""
    if isinstance(value, int):
        value = ((value, value), (value, value))
    try:
        (freq_left, freq_right), (time_left, time_right) = value
        pairs = ((int(freq_left), int(freq_right)), (int(time_left), int(time_right)))
    except (TypeError, ValueError):
        raise ValueError(
            f"decoder_conf.last_out_padding must be [[freq_left, freq_right], [time_left, time_right]], got {value!r}"
        ) from None
    if min(min(pair) for pair in pairs) < 0:
        raise ValueError(f"decoder_conf.last_out_padding must be >= 0, got {value!r}")
    return pairs
