"""The ``tokens`` command: a token codec's token figures for one clip, as one JSON object.

A thin wrapper over :func:`codecbench.tokens.statistics.measure_tokens` and
:func:`~codecbench.tokens.statistics.token_report`; heavy imports stay inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codecbench.cli.codecs import load_clip_and_codec
from codecbench.cli.options import device_option, max_duration_option, model_dir_option


def no_tokens_message(codec_name: str, family: str, point_label: str) -> str:
    """Why a codec (a classical one, an anchor) has no token figures, and what has them."""
    what = "an anchor, a filter with no bitstream" if family == "anchor" else f"a {family} codec with its own bitstream"
    return (
        f"{codec_name} at {point_label} sends no tokens ({what}): token statistics are for token (neural) codecs, "
        "such as encodec_24khz or facodec (see `codecbench codecs`)."
    )


@click.command("tokens")
@click.argument("input_path", metavar="CLIP", type=click.Path(path_type=Path))
@click.option("-c", "--codec", "codec_name", required=True, help="A token (neural) codec (see `codecbench codecs`).")
@click.option("-b", "--bitrate", "kbps", type=float, default=None, help="Bitrate in kbps.")
@max_duration_option("Refuse input longer than this many seconds.")
@model_dir_option(several_codecs=False)
@device_option()
def tokens_command(
    input_path: Path, codec_name: str, kbps: float | None, max_duration: float, model_dir: str | None, device: str,
) -> None:
    """Encode CLIP with a token codec; print its token figures as one JSON object.

    The figures: tokens, codebook utilisation and entropies per codebook (per stream for
    FACodec: prosody, content, residual), the measured rate (every token at ceil(log2 K) bits),
    the entropy-coded rate (the codes coded by an adaptive arithmetic coder and decoded back)
    and the entropy rate. Figures of a short clip rest on few tokens: their warnings are in
    `warnings` and on stderr. Classical codecs and anchors send no tokens and are refused.
    """
    from codecbench.audio import AudioError
    from codecbench.codecs import transcode
    from codecbench.tokens.statistics import measure_tokens, token_report

    audio, codec, operating_point = load_clip_and_codec(input_path, codec_name, kbps, max_duration, model_dir, device)
    if operating_point.codebook_size is None:  # refused before it runs: a classical codec or an anchor
        raise click.ClickException(no_tokens_message(codec_name, codec.spec.family, operating_point.label))
    for warning in audio.warnings:
        click.echo(f"warning: {warning}", err=True)
    try:
        result = transcode(codec, audio, operating_point)  # ValueError: e.g. a clip too short for the codec
    except (AudioError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    try:
        report = token_report([measure_tokens(result.encoded)])
    except (ValueError, RuntimeError) as error:  # NoTokensError; the coder's check, which asks for a report
        raise click.ClickException(str(error)) from None
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    record = {
        "codec": result.codec,
        "operating_point": operating_point.label,
        "nominal_kbps": operating_point.nominal_kbps,
        "clip": str(input_path),
        "clip_duration_s": round(audio.duration_s, 4),
        **report.to_dict(),
    }
    click.echo(json.dumps(record))
