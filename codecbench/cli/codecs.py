"""Codec commands: ``codecs`` (list), ``download``, ``transcode`` and ``convert-voice``.

Thin wrappers over :mod:`codecbench.codecs`; heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codecbench.cli.checks import check_writable
from codecbench.cli.options import (
    device_option,
    max_duration_option,
    model_dir_for,
    model_dir_option,
    subtype_option,
)

if TYPE_CHECKING:
    from codecbench.audio import Audio
    from codecbench.codecs import Codec, OperatingPoint


@click.command("codecs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per codec instead of a table.")
def codecs_command(as_json: bool) -> None:
    """List every codec, its operating points, and whether it is ready to run.

    A neural codec is ready when its weights are downloaded (`codecbench download NAME`); the
    status says what is missing otherwise.
    """
    from codecbench.codecs import readiness, registry_entries

    rows = []
    for entry in registry_entries():
        spec, state = entry.spec, readiness(entry.name)
        rows.append((spec, state))
        if as_json:
            weights = entry.weights
            hub = None if weights is None or weights.hub is None else {"repo_id": weights.hub.repo_id, "revision": weights.hub.revision}
            click.echo(
                json.dumps(
                    {
                        **spec.to_dict(), "ready": state.ready, "reason": state.reason, "remedy": state.remedy,
                        "note": state.note, "hub": hub,
                    }
                )
            )
    if as_json:
        return
    table = [("codec", "family", "rate", "operating points", "status")]
    for spec, state in rows:
        rate = "input's" if spec.sample_rate_hz is None else f"{spec.sample_rate_hz / 1000:g} kHz"
        if spec.points_from_model:
            rate = "model's"
        table.append((spec.name, spec.family, rate, _describe_points(spec), state.describe()))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4])


def _describe_points(spec) -> str:
    if spec.points_from_model:
        return "the model's (--model-dir)"
    points = ", ".join(
        point.label if point.tokens_per_second is None else f"{point.label} ({point.tokens_per_second:.4g} tok/s)"
        for point in spec.operating_points
    )
    if spec.bitrate_range_kbps is not None:
        low, high = spec.bitrate_range_kbps
        points += f" (any {low:g}-{high:g} kbps)"
    return points


@click.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Download every codec that has Hub weights.")
def download_command(names: tuple[str, ...], download_all: bool) -> None:
    """Fetch neural codecs' weights from the Hugging Face Hub into codecbench's cache.

    The cache is `hub/` in the codecbench home directory ($CODECBENCH_HOME, default
    ~/.cache/codecbench); each codec is pinned to one Hub revision. Files already there are
    not fetched again. Optional files (FACodec's redecoder, for voice conversion) come along
    when the repository has them.
    """
    from codecbench.codecs import get_entry, registry_entries
    from codecbench.codecs.checkpoints import download

    if download_all:
        names = tuple(entry.name for entry in registry_entries() if entry.weights is not None and entry.weights.hub is not None)
    if not names:
        raise click.UsageError("name at least one codec (see `codecbench codecs`), or pass --all.")
    try:
        entries = [get_entry(name) for name in names]
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    for entry in entries:
        if entry.weights is None:
            raise click.ClickException(f"{entry.name} has no weights to download; it runs as it is.")
        try:
            folder = download(entry.name, entry.weights)
        except (ValueError, RuntimeError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"{entry.name}: {entry.weights.hub.describe()} in {folder}")
        for optional in entry.weights.optional_files:
            if optional.needed_for is not None and not (folder / optional.name).is_file():
                click.echo(
                    f"warning: {entry.weights.hub.describe()} has no {optional.name}; "
                    f"{entry.name} runs without {optional.needed_for}.",
                    err=True,
                )


def load_clip_and_codec(
    input_path: Path, codec_name: str, kbps: float | None, max_duration: float, model_dir: str | None, device: str,
) -> tuple[Audio, Codec, OperatingPoint]:
    """A one-clip command's input, codec and operating point, or a :class:`click.ClickException`
    saying which of them is wrong (the clip, the codec's weights, the bitrate)."""
    from codecbench.audio import AudioError, AudioLimits, load_audio
    from codecbench.codecs import CodecNotReadyError, LoadOptions, load_codec

    try:
        options = LoadOptions(model_dir=model_dir_for(codec_name, model_dir), device=device)
        audio = load_audio(input_path, limits=AudioLimits(max_duration_s=max_duration))
        codec = load_codec(codec_name, options)
        return audio, codec, codec.spec.operating_point(kbps)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None


@click.command("transcode")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-c", "--codec", "codec_name", required=True, help="Codec name (see `codecbench codecs`).")
@click.option("-b", "--bitrate", "kbps", type=float, default=None, help="Bitrate in kbps (omit for anchors).")
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(path_type=Path),
    help="Where to write the reconstruction (.wav, .flac or .ogg), at the input's sample rate.",
)
@max_duration_option("Refuse input longer than this many seconds.")
@subtype_option
@model_dir_option(several_codecs=False)
@device_option()
def transcode_command(
    input_path: Path, codec_name: str, kbps: float | None, output_path: Path, max_duration: float,
    subtype: str | None, model_dir: str | None, device: str,
) -> None:
    """Encode and decode INPUT with one codec; print what happened as one JSON object.

    The output is time-aligned with INPUT (codec delay removed) and has the same length and
    sample rate.
    """
    from codecbench.audio import AudioError, output_format, write_audio
    from codecbench.codecs import CodecNotReadyError, transcode

    try:
        check_writable(output_path, "-o/--output", inputs=(input_path,))
        output_format(output_path, subtype)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    audio, codec, operating_point = load_clip_and_codec(input_path, codec_name, kbps, max_duration, model_dir, device)
    for warning in audio.warnings:
        click.echo(f"warning: {warning}", err=True)
    try:
        result = transcode(codec, audio, operating_point)  # ValueError: e.g. a clip too short for the codec
        write_audio(output_path, result.samples, result.sample_rate_hz, subtype)
    except (AudioError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))


@click.command("convert-voice")
@click.option(
    "--content", "content_path", required=True, type=click.Path(path_type=Path),
    help="The clip whose words and prosody are kept.",
)
@click.option(
    "--timbre", "timbre_path", required=True, type=click.Path(path_type=Path),
    help="The clip whose voice (timbre) they are spoken in.",
)
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(path_type=Path),
    help="Where to write the result (.wav, .flac or .ogg), at the content clip's sample rate and length.",
)
@max_duration_option("Refuse clips longer than this many seconds.")
@subtype_option
@model_dir_option(several_codecs=False)
@device_option()
def convert_voice_command(
    content_path: Path, timbre_path: Path, output_path: Path, max_duration: float, subtype: str | None,
    model_dir: str | None, device: str,
) -> None:
    """Speak the --content clip in the voice of the --timbre clip (FACodec); print one JSON object.

    FACodec's redecoder speaks the content clip's prosody and content codes with the timbre
    clip's timbre vector. It needs ns3_facodec_redecoder.bin (`codecbench download facodec`
    fetches it where the Hub repository has it, or --model-dir DIR holding it).
    """
    from codecbench.audio import AudioError, AudioLimits, load_audio, output_format, write_audio
    from codecbench.codecs import CodecNotReadyError, LoadOptions
    from codecbench.codecs.facodec.entry import FACODEC_NAME
    from codecbench.voice_conversion import convert_voice

    try:
        check_writable(output_path, "-o/--output", inputs=(content_path, timbre_path))
        output_format(output_path, subtype)
        options = LoadOptions(model_dir=model_dir_for(FACODEC_NAME, model_dir), device=device)
        limits = AudioLimits(max_duration_s=max_duration)
        content, timbre = load_audio(content_path, limits=limits), load_audio(timbre_path, limits=limits)
        for warning in (*content.warnings, *timbre.warnings):
            click.echo(f"warning: {warning}", err=True)
        result = convert_voice(content, timbre, options)
        write_audio(output_path, result.samples, result.sample_rate_hz, subtype)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))
