"""FunCodec's EnCodec-type models (Alibaba DAMO), run as ``transformers.EncodecModel``.

The four published models are registry entries (their Hub checkpoints and token layouts);
``funcodec --model-dir DIR`` runs any such model. Each is converted once into an
``EncodecModel`` (see :mod:`codecbench.codecs.funcodec_format`) and run by
:class:`~codecbench.codecs.encodec.TransformersEncodecCodec`.

Inference follows FunCodec's own ``Encodec.inference`` (``funcodec/models/codec_basic.py``):
the whole clip is encoded at once (``segment_dur: null``), divided by its RMS (plus 1e-8)
first, and the decoder output is multiplied back by that scale and cut to the input length.
The scale travels with the codes (32 bits per clip). ``bit_width`` (bps) selects
``max(1, floor(bit_width / (bits per code x frames/s)))`` quantizers; codecbench offers 1, 2,
4, ... up to all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codecbench.codecs.base import CodecSpec, LoadOptions
from codecbench.codecs.checkpoints import HubCheckpoint, Weights, weights_dir
from codecbench.codecs.encodec import TransformersEncodecCodec, load_encodec_model
from codecbench.codecs.funcodec_format import FUNCODEC_FILES, FunCodecConfig, converted_model_dir
from codecbench.codecs.token_codec import check_model_matches_spec, token_operating_points


def funcodec_spec(name: str, description: str, config: FunCodecConfig) -> CodecSpec:
    return CodecSpec(
        name=name,
        family="neural",
        description=description,
        sample_rate_hz=config.sample_rate_hz,
        operating_points=token_operating_points(config.frame_rate_hz, config.codebook_size, config.codebook_counts()),
    )


@dataclass(frozen=True)
class FunCodecModel:
    """A published FunCodec EnCodec-type model: its registry name and where it lives on the Hub."""

    name: str
    description: str
    hub: HubCheckpoint
    frame_rate_hz: float

    @property
    def spec(self) -> CodecSpec:
        return CodecSpec(
            name=self.name,
            family="neural",
            description=self.description,
            sample_rate_hz=16_000,
            operating_points=token_operating_points(self.frame_rate_hz, 1024, (1, 2, 4, 8, 16, 32)),
        )

    @property
    def weights(self) -> Weights:
        return Weights(files=FUNCODEC_FILES, hub=self.hub)

    def load(self, options: LoadOptions) -> TransformersEncodecCodec:
        return _load(self.spec, weights_dir(self.weights, options), options.device)


# Revisions: the latest commits listed on the Hub for the two models whose full commit hash
# could be found; "main" for the other two (see README).
FUNCODEC_MODELS = (
    FunCodecModel(
        "funcodec_en_libritts_16k_nq32ds640",
        "FunCodec EnCodec-type, LibriTTS (English), 16 kHz, 25 frames/s",
        HubCheckpoint("alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch", "02f860a594ca2ce763d0e305d38daae1a02d82ec"),
        25.0,
    ),
    FunCodecModel(
        "funcodec_en_libritts_16k_nq32ds320",
        "FunCodec EnCodec-type, LibriTTS (English), 16 kHz, 50 frames/s",
        HubCheckpoint("alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds320-pytorch", "main"),
        50.0,
    ),
    FunCodecModel(
        "funcodec_zh_en_general_16k_nq32ds640",
        "FunCodec EnCodec-type, general Chinese+English, 16 kHz, 25 frames/s",
        HubCheckpoint("alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds640-pytorch", "main"),
        25.0,
    ),
    FunCodecModel(
        "funcodec_zh_en_general_16k_nq32ds320",
        "FunCodec EnCodec-type, general Chinese+English, 16 kHz, 50 frames/s",
        HubCheckpoint("alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds320-pytorch", "ef9fbae4943cb272b8803e8a0f3c974fa1003b1f"),
        50.0,
    ),
)

FUNCODEC_DIR_SPEC = CodecSpec.for_model_dir("funcodec", "any FunCodec EnCodec-type model (--model-dir DIR)")
FUNCODEC_DIR_WEIGHTS = Weights(files=FUNCODEC_FILES)


def funcodec_dir_spec(directory: Path) -> CodecSpec:
    """The spec of the FunCodec model in ``directory``, read from its ``config.yaml`` alone."""
    config = FunCodecConfig.from_yaml(directory / FUNCODEC_FILES[0])
    return funcodec_spec(FUNCODEC_DIR_SPEC.name, f"FunCodec model in {directory}", config)


def load_funcodec_dir(options: LoadOptions) -> TransformersEncodecCodec:
    directory = weights_dir(FUNCODEC_DIR_WEIGHTS, options)
    return _load(funcodec_dir_spec(directory), directory, options.device)


def _load(spec: CodecSpec, directory: Path, device: str) -> TransformersEncodecCodec:
    config = FunCodecConfig.from_yaml(directory / FUNCODEC_FILES[0])
    check_model_matches_spec(spec, config.frame_rate_hz, config.codebook_size, config.num_quantizers, str(directory))
    if config.sample_rate_hz != spec.sample_rate_hz:
        raise ValueError(f"the model in {directory} runs at {config.sample_rate_hz} Hz, but {spec.name} at {spec.sample_rate_hz} Hz")
    model = load_encodec_model(converted_model_dir(directory), device)
    return TransformersEncodecCodec(spec, model, device)
