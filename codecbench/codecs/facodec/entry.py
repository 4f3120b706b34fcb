"""FACodec as the registry knows it: operating points, weights on the Hub, loading.

This module imports no torch, so listing codecs stays fast; the model is imported when loaded.

Operating points add codebooks in FACodec's own order: prosody and content first (2.4 kbps for
the published model: 3 codebooks x 80 frames/s x 10 bits), then the acoustic-residual
codebooks one at a time (3.2, 4.0, 4.8 kbps). The timbre vector is continuous and sent once per
utterance at every operating point: side information (``side_info_bits``), not bitrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.codecs.base import CodecSpec, LoadOptions, OperatingPoint
from codecbench.codecs.checkpoints import HubCheckpoint, OptionalFile, Weights, weights_dir
from codecbench.codecs.facodec.config import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    FACodecConfig,
)

if TYPE_CHECKING:
    from codecbench.codecs.facodec.codec import FACodecCodec

FACODEC_NAME = "facodec"

# "main": no commit hash of the Hub repository could be confirmed to hold all three files
# (public copies of two early versions of its README name commits b5b5451 and ba8e1a5; what
# they hold could not be checked from here).
FACODEC_HUB = HubCheckpoint("amphion/naturalspeech3_facodec", "main")
FACODEC_REDECODER = OptionalFile(REDECODER_FILENAME, "voice conversion")
FACODEC_WEIGHTS = Weights(files=(ENCODER_FILENAME, DECODER_FILENAME), hub=FACODEC_HUB, optional_files=(FACODEC_REDECODER,))
# The architecture the named entry builds for the Hub snapshot: the published model. The
# repository has no config.json, and it follows `main`, so one appearing there later (perhaps
# in Amphion's own format) is neither downloaded nor read. A --model-dir directory's
# config.json is read.
FACODEC_HUB_CONFIG = FACodecConfig()


def facodec_operating_points(config: FACodecConfig) -> tuple[OperatingPoint, ...]:
    """Prosody + content, then one more residual codebook per point, lowest bitrate first."""
    decoder = config.decoder
    sizes_bits = {decoder.codebook_size_prosody, decoder.codebook_size_content}
    if decoder.vq_num_q_r:
        sizes_bits.add(decoder.codebook_size_residual)
    if len(sizes_bits) != 1:
        # Mixed sizes would need a per-codebook bit count; the published model uses one size.
        raise ValueError(
            "FACodec operating points need one codebook size for all attributes (codebook_size_prosody, "
            f"codebook_size_content, codebook_size_residual), got 2**{sorted(sizes_bits)} entries"
        )
    (bits,) = sizes_bits
    base = decoder.vq_num_q_p + decoder.vq_num_q_c
    points = []
    for residual in range(decoder.vq_num_q_r + 1):
        codebooks = base + residual
        kbps = round(config.frame_rate_hz * codebooks * bits / 1000, 6)
        points.append(
            OperatingPoint(
                label=f"{kbps:g} kbps",
                nominal_kbps=kbps,
                frame_rate_hz=config.frame_rate_hz,
                num_codebooks=codebooks,
                codebook_size=2**bits,
            )
        )
    return tuple(points)


def facodec_spec(config: FACodecConfig = FACodecConfig()) -> CodecSpec:
    return CodecSpec(
        name=FACODEC_NAME,
        family="neural",
        description=(
            f"FACodec (NaturalSpeech 3, {FACODEC_HUB.repo_id}): prosody, content and residual codes "
            f"at {config.frame_rate_hz:g} frames/s + a timbre vector"
        ),
        sample_rate_hz=config.sample_rate_hz,
        operating_points=facodec_operating_points(config),
    )


FACODEC_SPEC = facodec_spec()


def load_facodec_codec(options: LoadOptions) -> FACodecCodec:
    """The registry's loader: :class:`~codecbench.codecs.facodec.codec.FACodecCodec` from the
    cached snapshot (as :data:`FACODEC_HUB_CONFIG`) or ``options.model_dir`` (as its
    ``config.json`` says, else the published model), on ``options.device``.

    Raises:
        ValueError: the directory's model is not FACodec as this entry runs it (other token
            layout), or its files do not fit their configuration.
    """
    from codecbench.codecs.facodec.codec import FACodecCodec
    from codecbench.codecs.facodec.model import load_facodec

    directory = weights_dir(FACODEC_WEIGHTS, options)
    config = FACODEC_HUB_CONFIG if options.model_dir is None else None
    model = load_facodec(directory, options.device, config=config).model
    try:
        points = facodec_operating_points(model.config)
    except ValueError as error:
        raise ValueError(f"the FACodec model in {directory} (see its {CONFIG_FILENAME}) cannot run: {error}") from None
    if points != FACODEC_SPEC.operating_points:
        raise ValueError(
            f"the FACodec model in {directory} runs at {', '.join(p.label for p in points)} "
            f"({model.config.frame_rate_hz:g} frames/s), but {FACODEC_NAME} runs "
            f"{', '.join(p.label for p in FACODEC_SPEC.operating_points)} (80 frames/s, 1024-entry codebooks). "
            "Is it the right model?"
        )
    return FACodecCodec(model, options.device)
