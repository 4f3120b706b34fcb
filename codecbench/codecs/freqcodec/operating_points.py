"""FreqCodec operating points from FunCodec's ``bit_width``.

FunCodec picks the number of quantizers from a bit width in bits per second:
max(1, floor(bit_width / (log2(codebook size) x frame rate))). The listed operating points are
the quantizer counts the model was trained to run at (``rand_num_quant``): for the published
16 kHz ds320 models that is 1, 2, 4, ..., 32 quantizers at 50 frames/s, 0.5 to 16 kbps.
"""

from __future__ import annotations

from codecbench.codecs.base import OperatingPoint
from codecbench.codecs.freqcodec.config import FreqCodecConfig


def operating_point_for_quantizers(config: FreqCodecConfig, num_quantizers: int) -> OperatingPoint:
    """The token operating point that uses ``num_quantizers`` codebooks."""
    if not 1 <= num_quantizers <= config.quantizer.num_quantizers:
        raise ValueError(f"num_quantizers must be in 1..{config.quantizer.num_quantizers}, got {num_quantizers}")
    bitrate_kbps = config.bit_width_bps(num_quantizers) / 1000
    return OperatingPoint(
        label=f"{bitrate_kbps:g} kbps",
        nominal_kbps=bitrate_kbps,
        frame_rate_hz=config.frame_rate_hz,
        num_codebooks=num_quantizers,
        codebook_size=config.quantizer.codebook_size,
    )


def trained_operating_points(config: FreqCodecConfig) -> tuple[OperatingPoint, ...]:
    """One operating point per trained quantizer count, lowest bitrate first."""
    return tuple(operating_point_for_quantizers(config, n) for n in config.trained_num_quantizers)


def operating_point_for_bitrate(config: FreqCodecConfig, bitrate_kbps: float) -> OperatingPoint:
    """The operating point FunCodec runs at for ``bit_width = bitrate_kbps x 1000``.

    Any positive bitrate is accepted, as FunCodec accepts any ``bit_width``: it is rounded down
    to whole quantizers (at least one, at most all).
    """
    return operating_point_for_quantizers(config, config.quantizer.num_quantizers_for_bit_width(bitrate_kbps * 1000))
