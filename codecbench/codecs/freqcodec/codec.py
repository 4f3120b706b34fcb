"""FreqCodec as a codecbench codec: the two published models, and any FreqCodec model directory.

The published models (``freqcodec_magphase_en_libritts_16k_gr8nq32ds320`` and ``..._gr1...``)
are registry entries with their Hub checkpoints; ``freqcodec --model-dir DIR`` runs any
FreqCodec ``config.yaml`` + ``model.pth``. Both offer FunCodec's operating points: 1, 2, 4, ...
quantizers up to all of them (0.5 to 16 kbps at 50 frames/s for the published models), as
FunCodec's EnCodec-type models do, so the two compare at equal token rates.

Inference is FunCodec's ``FreqCodec.inference`` (see :class:`FreqCodecModel`): the whole clip
at once, divided by its RMS, and the decoder output multiplied back by that scale, which
travels with the codes as 32 bits of side information per clip. The centred STFT gives
``1 + n // 160`` spectral frames, so a clip of n samples has ``ceil((1 + n // 160) / 2)`` code
frames: one more than ``n / 320`` when n is a whole number of frames (101 for 2 s), which the
payload, and so the measured bitrate, includes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from codecbench.codecs.base import CodecSpec, LoadOptions
from codecbench.codecs.checkpoints import HubCheckpoint, Weights, weights_dir
from codecbench.codecs.freqcodec.config import FreqCodecConfig
from codecbench.codecs.funcodec import FunCodecModel
from codecbench.codecs.funcodec_format import FUNCODEC_FILES, funcodec_codebook_counts
from codecbench.codecs.token_codec import BatchLimits, TorchTokenCodec, check_model_matches_spec, token_operating_points

logger = logging.getLogger(__name__)


class FreqCodecCodec(TorchTokenCodec):
    """A loaded :class:`~codecbench.codecs.freqcodec.model.FreqCodecModel` (eval mode, on ``device``).

    Clips are encoded as they are, without padding, as FunCodec does. Whole-clip RMS
    normalisation, GroupNorm over time and the STFT's reflect padding make every code depend
    on the clip's end, so only clips of equal length share a batch.
    """

    def __init__(self, spec: CodecSpec, model, device: str, batch_limits: BatchLimits | None = None) -> None:
        super().__init__(
            spec,
            device=device,
            hop_length=model.config.hop_length_samples,
            pads_safely=False,
            pad_to_frames=False,
            batch_limits=batch_limits,
        )
        self.model = model

    def num_frames(self, num_samples: int) -> int:
        """Code frames for ``num_samples``: the centred STFT's frames over the time stride."""
        return self.model.config.num_frames(num_samples)

    def _encode_batch_tensor(self, audio, num_codebooks: int):
        encoded = self.model.encode(audio[:, 0, :], num_codebooks)
        return encoded.codes, encoded.scale

    def _decode_batch_tensor(self, codes, scales):
        from codecbench.codecs.freqcodec.model import FreqCodecCodes

        return self.model.decode(FreqCodecCodes(codes=codes, scale=scales, num_samples=None))


class FreqCodecRelease(FunCodecModel):
    """A published FreqCodec model: FunCodec's ds320 token layout (16 kHz, 50 frames/s, 32
    quantizers of 1024 entries), loaded as a FreqCodec."""

    def load(self, options: LoadOptions) -> FreqCodecCodec:
        directory = weights_dir(self.weights, options)
        return _load(self.spec, directory, _read_config(directory), options.device)


FREQCODEC_MODELS = (
    FreqCodecRelease(
        "freqcodec_magphase_en_libritts_16k_gr8nq32ds320",
        "FunCodec FreqCodec, magnitude-phase, group ratio 8, LibriTTS (English), 16 kHz, 50 frames/s",
        HubCheckpoint(
            "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch",
            "4b3fc9494a14537edbc108388d2a4c3e3f272b5e",
        ),
        50.0,
    ),
    FreqCodecRelease(
        "freqcodec_magphase_en_libritts_16k_gr1nq32ds320",
        "FunCodec FreqCodec, magnitude-phase, group ratio 1, LibriTTS (English), 16 kHz, 50 frames/s",
        HubCheckpoint(
            "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch",
            "6620dd1fdbe379569a0c3b3a870f58ceab472a1d",
        ),
        50.0,
    ),
)

FREQCODEC_DIR_SPEC = CodecSpec.for_model_dir("freqcodec", "any FunCodec FreqCodec model (--model-dir DIR)")
FREQCODEC_DIR_WEIGHTS = Weights(files=FUNCODEC_FILES)


def freqcodec_dir_spec(directory: Path) -> CodecSpec:
    """The spec of the FreqCodec model in ``directory``, read from its ``config.yaml`` alone.

    Raises:
        ValueError: the config is not a FreqCodec config codecbench can run (names the field).
    """
    return _dir_spec(directory, _read_config(directory))


def _dir_spec(directory: Path, config: FreqCodecConfig) -> CodecSpec:
    return CodecSpec(
        name=FREQCODEC_DIR_SPEC.name,
        family="neural",
        description=f"FreqCodec model in {directory}",
        sample_rate_hz=config.sample_rate_hz,
        operating_points=token_operating_points(
            config.frame_rate_hz, config.quantizer.codebook_size, funcodec_codebook_counts(config.quantizer.num_quantizers)
        ),
    )


def load_freqcodec_dir(options: LoadOptions) -> FreqCodecCodec:
    directory = weights_dir(FREQCODEC_DIR_WEIGHTS, options)
    config = _read_config(directory)
    return _load(_dir_spec(directory, config), directory, config, options.device)


def _read_config(directory: Path) -> FreqCodecConfig:
    return FreqCodecConfig.from_upstream(directory / FUNCODEC_FILES[0])


def _load(spec: CodecSpec, directory: Path, config: FreqCodecConfig, device: str) -> FreqCodecCodec:
    """Check the model's token layout (``config``, read from ``directory``) against ``spec``, then
    load ``directory``'s weights strictly.

    Raises:
        ValueError: the config or the weights do not fit (the message names the directory).
    """
    from codecbench.codecs.freqcodec.checkpoint import CheckpointError, load_model

    if config.sample_rate_hz != spec.sample_rate_hz:
        raise ValueError(
            f"the model in {directory} runs at {config.sample_rate_hz} Hz, but {spec.name} at {spec.sample_rate_hz} Hz: "
            f"it is not {spec.name}; run a FreqCodec model of your own with -c freqcodec --model-dir DIR"
        )
    quantizer = config.quantizer
    check_model_matches_spec(spec, config.frame_rate_hz, quantizer.codebook_size, quantizer.num_quantizers, str(directory))
    try:
        model, report = load_model(config, directory / FUNCODEC_FILES[1], device)
    except CheckpointError as error:
        raise ValueError(f"cannot load the FreqCodec model in {directory}: {error}") from None
    logger.info("FreqCodec model in %s: %s", directory, report.summary())
    return FreqCodecCodec(spec, model, device)
