"""The ``codecbench`` command: one sub-command per job, each a thin wrapper over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codecbench import __version__

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
APP_MAX_DURATION_S = 600.0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codecbench")
def main() -> None:
    """Evaluate speech codecs: listen side by side, score test sets, run MUSHRA tests."""


@main.command("codecs")
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
                    {**spec.to_dict(), "ready": state.ready, "reason": state.reason, "remedy": state.remedy, "hub": hub}
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


@main.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Download every codec that has Hub weights.")
def download_command(names: tuple[str, ...], download_all: bool) -> None:
    """Fetch neural codecs' weights from the Hugging Face Hub into codecbench's cache.

    The cache is `hub/` in the codecbench home directory ($CODECBENCH_HOME, default
    ~/.cache/codecbench); each codec is pinned to one Hub revision. Files already there are
    not fetched again.
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


@main.command("transcode")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--codec", "codec_name", required=True, help="Codec name (see `codecbench codecs`).")
@click.option("-b", "--bitrate", "kbps", type=float, default=None, help="Bitrate in kbps (omit for anchors).")
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the reconstruction (.wav, .flac or .ogg), at the input's sample rate.",
)
@click.option("--max-duration", type=float, default=None, help="Refuse input longer than this many seconds.")
@click.option(
    "--model-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Load a neural codec's weights from this directory instead of codecbench's Hub cache.",
)
@click.option("--device", default="cpu", show_default=True, help="Where neural codecs run: cpu, cuda or cuda:N.")
def transcode_command(
    input_path: Path, codec_name: str, kbps: float | None, output_path: Path, max_duration: float | None,
    model_dir: Path | None, device: str,
) -> None:
    """Encode and decode INPUT with one codec; print what happened as one JSON object.

    The output is time-aligned with INPUT (codec delay removed) and has the same length and
    sample rate.
    """
    from codecbench.audio import AudioError, AudioLimits, load_audio, write_audio
    from codecbench.codecs import CodecNotReadyError, LoadOptions, load_codec, transcode

    try:
        options = LoadOptions(model_dir=model_dir, device=device)
        audio = load_audio(input_path, limits=AudioLimits(max_duration_s=max_duration))
        codec = load_codec(codec_name, options)
        operating_point = codec.spec.operating_point(kbps)
    except (AudioError, CodecNotReadyError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for warning in audio.warnings:
        click.echo(f"warning: {warning}", err=True)
    result = transcode(codec, audio, operating_point)
    try:
        write_audio(output_path, result.samples, result.sample_rate_hz)
    except (AudioError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))


@main.command("app")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to serve on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to serve on.")
@click.option(
    "--max-duration", type=float, default=APP_MAX_DURATION_S, show_default=True,
    help="Longest upload accepted, in seconds.",
)
@click.option(
    "--model-dir", "model_dirs", multiple=True, metavar="CODEC=DIR",
    help="Load CODEC's weights from DIR (repeatable), e.g. funcodec=./my_model.",
)
@click.option("--device", default="cpu", show_default=True, help="Where neural codecs run: cpu, cuda or cuda:N.")
def app_command(host: str, port: int, max_duration: float, model_dirs: tuple[str, ...], device: str) -> None:
    """Start the web app (Listen page) on http://HOST:PORT."""
    from codecbench.app import AppSettings, launch

    try:
        settings = AppSettings(max_duration_s=max_duration, model_dirs=_parse_model_dirs(model_dirs), device=device)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    launch(settings, host=host, port=port)


def _parse_model_dirs(values: tuple[str, ...]) -> dict[str, Path]:
    from codecbench.codecs import get_entry

    model_dirs = {}
    for value in values:
        name, separator, directory = value.partition("=")
        if not separator or not name or not directory:
            raise ValueError(f"--model-dir {value!r}: write CODEC=DIR, e.g. funcodec=./my_model")
        get_entry(name)
        model_dirs[name] = Path(directory)
    return model_dirs


if __name__ == "__main__":
    sys.exit(main())
