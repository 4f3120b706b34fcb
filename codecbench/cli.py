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
    """List every codec, its operating points, and whether it is ready to run."""
    from codecbench.codecs import readiness, registry_entries

    rows = []
    for entry in registry_entries():
        spec, state = entry.spec, readiness(entry.name)
        rows.append((spec, state))
        if as_json:
            click.echo(
                json.dumps(
                    {**spec.to_dict(), "ready": state.ready, "reason": state.reason, "remedy": state.remedy}
                )
            )
    if as_json:
        return
    table = [("codec", "family", "rate", "operating points", "status")]
    for spec, state in rows:
        rate = "input's" if spec.sample_rate_hz is None else f"{spec.sample_rate_hz / 1000:g} kHz"
        points = ", ".join(point.label for point in spec.operating_points)
        if spec.bitrate_range_kbps is not None:
            low, high = spec.bitrate_range_kbps
            points += f" (any {low:g}-{high:g} kbps)"
        table.append((spec.name, spec.family, rate, points, state.describe()))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4])


@main.command("transcode")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--codec", "codec_name", required=True, help="Codec name (see `codecbench codecs`).")
@click.option("-b", "--bitrate", "kbps", type=float, default=None, help="Bitrate in kbps (omit for anchors).")
@click.option(
    "-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the reconstruction (.wav, .flac or .ogg), at the input's sample rate.",
)
@click.option("--max-duration", type=float, default=None, help="Refuse input longer than this many seconds.")
def transcode_command(input_path: Path, codec_name: str, kbps: float | None, output_path: Path, max_duration: float | None) -> None:
    """Encode and decode INPUT with one codec; print what happened as one JSON object.

    The output is time-aligned with INPUT (codec delay removed) and has the same length and
    sample rate.
    """
    from codecbench.audio import AudioError, AudioLimits, load_audio, write_audio
    from codecbench.codecs import CodecNotReadyError, load_codec, transcode

    try:
        audio = load_audio(input_path, limits=AudioLimits(max_duration_s=max_duration))
        codec = load_codec(codec_name)
        operating_point = codec.spec.operating_point(kbps)
    except (AudioError, CodecNotReadyError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for warning in audio.warnings:
        click.echo(f"warning: {warning}", err=True)
    result = transcode(codec, audio, operating_point)
    try:
        write_audio(output_path, result.samples, result.sample_rate_hz)
    except (AudioError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result.summary()))


@main.command("score")
@click.argument("reference_path", metavar="REFERENCE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("degraded_path", metavar="DEGRADED", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-m", "--metrics", default=None,
    help="Comma-separated metrics from visqol, pesq, pesq_wb, pesq_nb, stoi, estoi, sisnr, mel, "
    "mrstft.  [default: all but pesq_wb and pesq_nb, between which pesq chooses]",
)
@click.option(
    "--visqol-protocol", "visqol_protocols", multiple=True,
    help="ViSQOL protocol: speech, speech-exp, audio or audio-native; repeat for several.  [default: speech]",
)
@click.option(
    "--max-delay", type=float, default=0.5, show_default=True,
    help="Largest delay of DEGRADED behind REFERENCE that alignment looks for, in seconds.",
)
def score_command(
    reference_path: Path, degraded_path: Path, metrics: str | None, visqol_protocols: tuple[str, ...], max_delay: float
) -> None:
    """Score DEGRADED against REFERENCE; print one JSON object per metric.

    Each object has metric, value (null if it could not be computed), error (null, or why
    not), protocol, implementation, and the alignment found (delay_samples at the
    reference's rate, gain_db). The files may have different sample rates.
    """
    from codecbench.evaluation.metrics import MetricError, ScoringConfig, prepare_pair, score_prepared_pair

    options: dict = {"max_delay_s": max_delay}
    if metrics is not None:
        options["metrics"] = tuple(name.strip() for name in metrics.split(",") if name.strip())
    if visqol_protocols:
        options["visqol_protocols"] = visqol_protocols
    try:
        config = ScoringConfig(**options)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    try:
        pair = prepare_pair(reference_path, degraded_path, max_delay_s=config.max_delay_s)
    except MetricError as error:
        raise click.ClickException(str(error)) from None
    for warning in pair.warnings:
        click.echo(f"warning: {warning}", err=True)
    for result in score_prepared_pair(pair, config):
        click.echo(json.dumps(result.to_dict()))


@main.command("app")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to serve on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to serve on.")
@click.option(
    "--max-duration", type=float, default=APP_MAX_DURATION_S, show_default=True,
    help="Longest upload accepted, in seconds.",
)
def app_command(host: str, port: int, max_duration: float) -> None:
    """Start the web app (Listen page) on http://HOST:PORT."""
    from codecbench.app import AppSettings, launch

    launch(AppSettings(max_duration_s=max_duration), host=host, port=port)


if __name__ == "__main__":
    sys.exit(main())
