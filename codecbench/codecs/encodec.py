"""EnCodec through ``transformers.EncodecModel``: Meta's 24 kHz model, and any EnCodec model directory.

``encodec_24khz`` is ``facebook/encodec_24khz``: 75 frames/s, 10-bit codebooks, 1.5 to 24 kbps
(2 to 32 codebooks). ``encodec`` loads any mono, unchunked ``EncodecModel`` saved with
``save_pretrained`` (``--model-dir DIR`` holding ``config.json`` and ``model.safetensors``),
with the operating points of its ``target_bandwidths``. FunCodec's EnCodec-type models run in
the same class once converted (see :mod:`codecbench.codecs.funcodec`).

The 24 kHz model is causal, so codecbench pads every clip to a whole number of frames (320
samples) before encoding: then zero padding never changes a clip's codes, and clips of
different lengths can share a batch (clips under 7 frames, 93 ms, excepted). Only the last,
partial frame differs from feeding the unpadded clip (it sees zeros instead of EnCodec's
reflected edge).
"""

from __future__ import annotations

import math
from pathlib import Path

from codecbench.codecs.base import CodecSpec, LoadOptions
from codecbench.codecs.checkpoints import HubCheckpoint, Weights, weights_dir
from codecbench.codecs.token_codec import BatchLimits, TorchTokenCodec, check_model_matches_spec, token_operating_points

ENCODEC_WEIGHTS_FILES = ("config.json", "model.safetensors")

ENCODEC_24KHZ_SPEC = CodecSpec(
    name="encodec_24khz",
    family="neural",
    description="EnCodec 24 kHz (Meta, facebook/encodec_24khz), causal, 75 frames/s",
    sample_rate_hz=24_000,
    operating_points=token_operating_points(75.0, 1024, (2, 4, 8, 16, 32)),
)
ENCODEC_24KHZ_WEIGHTS = Weights(
    files=ENCODEC_WEIGHTS_FILES,
    hub=HubCheckpoint("facebook/encodec_24khz", "c1dbe2ae3f1de713481a3b3e7c47f357092ee040"),
)

ENCODEC_DIR_SPEC = CodecSpec.for_model_dir("encodec", "any mono EnCodec model saved by transformers (--model-dir DIR)")
ENCODEC_DIR_WEIGHTS = Weights(files=ENCODEC_WEIGHTS_FILES)


class TransformersEncodecCodec(TorchTokenCodec):
    """A loaded ``transformers.EncodecModel``.

    Args:
        spec: operating points; each one's codebook count must be one the model's
            ``target_bandwidths`` selects.
        model: the model, in eval mode on ``device``.
        device: torch device string.
    """

    def __init__(self, spec: CodecSpec, model, device: str, batch_limits: BatchLimits | None = None) -> None:
        config = model.config
        causal_and_local = config.use_causal_conv and config.norm_type == "weight_norm" and not config.normalize
        super().__init__(
            spec,
            device=device,
            hop_length=config.hop_length,
            pads_safely=causal_and_local,
            pad_to_frames=False,
            # Below this many frames, the reflect padding of the frame-rate convolutions
            # reaches past the clip's end into whatever a batch padded it with.
            min_padded_frames=max(config.kernel_size, config.last_kernel_size),
            batch_limits=batch_limits,
        )
        self.model = model
        self._bandwidth_for = {quantizers_for_bandwidth(config, bw): bw for bw in config.target_bandwidths}
        for point in spec.operating_points:
            if point.num_codebooks not in self._bandwidth_for:
                raise ValueError(
                    f"{spec.name} {point.label} uses {point.num_codebooks} codebooks, but the model's "
                    f"target_bandwidths {list(config.target_bandwidths)} give {sorted(self._bandwidth_for)}"
                )

    def _encode_batch_tensor(self, audio, num_codebooks: int):
        encoded = self.model.encode(audio, bandwidth=self._bandwidth_for[num_codebooks])
        scales = encoded.audio_scales[0]
        return encoded.audio_codes[0], None if scales is None else scales.reshape(-1)

    def _decode_batch_tensor(self, codes, scales):
        audio = self.model.decode(codes.unsqueeze(0), [None if scales is None else scales.reshape(-1, 1)])
        return audio.audio_values[:, 0, :]


def quantizers_for_bandwidth(config, bandwidth_kbps: float) -> int:
    """Codebooks ``EncodecModel`` uses at ``bandwidth_kbps`` (its own rule: floor of kbps / kbps per codebook)."""
    bits_per_codebook = math.log2(config.codebook_size)
    return int(max(1, math.floor(bandwidth_kbps * 1000 / (bits_per_codebook * config.frame_rate))))


def load_encodec_model(directory: Path, device: str):
    """``EncodecModel`` from a ``save_pretrained`` directory, in eval mode on ``device``.

    Raises:
        ValueError: the model is not one codecbench can run (stereo, or chunked).
    """
    from transformers import EncodecModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        model = EncodecModel.from_pretrained(directory, local_files_only=True)
    except Exception as error:  # transformers and safetensors raise many kinds for a bad directory
        raise ValueError(f"cannot load the EnCodec model in {directory}: {error}") from None
    config = model.config
    if config.audio_channels != 1:
        raise ValueError(f"the EnCodec model in {directory} has {config.audio_channels} channels; codecbench runs mono models")
    if config.chunk_length_s is not None:
        raise ValueError(
            f"the EnCodec model in {directory} encodes in {config.chunk_length_s} s chunks; codecbench runs "
            "models that encode whole clips (chunk_length_s: null)"
        )
    return model.eval().to(device)


def encodec_dir_spec(directory: Path) -> CodecSpec:
    """The spec of the EnCodec model in ``directory``, read from its ``config.json`` alone."""
    from transformers import EncodecConfig

    try:
        encodec_config = EncodecConfig.from_pretrained(directory, local_files_only=True)
    except Exception as error:  # a missing, malformed or foreign config.json
        raise ValueError(f"cannot read the EnCodec config in {directory}: {error}") from None
    counts = sorted({quantizers_for_bandwidth(encodec_config, bw) for bw in encodec_config.target_bandwidths})
    return CodecSpec(
        name=ENCODEC_DIR_SPEC.name,
        family="neural",
        description=f"EnCodec model in {directory}",
        sample_rate_hz=encodec_config.sampling_rate,
        operating_points=token_operating_points(
            encodec_config.sampling_rate / encodec_config.hop_length, encodec_config.codebook_size, counts
        ),
    )


def load_encodec_24khz(options: LoadOptions) -> TransformersEncodecCodec:
    directory = weights_dir(ENCODEC_24KHZ_WEIGHTS, options)
    model = load_encodec_model(directory, options.device)
    _check_tokens(ENCODEC_24KHZ_SPEC, model.config, directory)
    return TransformersEncodecCodec(ENCODEC_24KHZ_SPEC, model, options.device)


def load_encodec_dir(options: LoadOptions) -> TransformersEncodecCodec:
    directory = weights_dir(ENCODEC_DIR_WEIGHTS, options)
    spec = encodec_dir_spec(directory)
    return TransformersEncodecCodec(spec, load_encodec_model(directory, options.device), options.device)


def _check_tokens(spec: CodecSpec, config, directory: Path) -> None:
    if config.sampling_rate != spec.sample_rate_hz:
        raise ValueError(f"the model in {directory} runs at {config.sampling_rate} Hz, but {spec.name} at {spec.sample_rate_hz} Hz")
    max_codebooks = max(quantizers_for_bandwidth(config, bw) for bw in config.target_bandwidths)
    check_model_matches_spec(spec, config.sampling_rate / config.hop_length, config.codebook_size, max_codebooks, str(directory))
