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


class TestSetSpecType(click.ParamType):
    """``--testset NAME=ROOT``, ``NAME=wavscp:PATH`` or ``NAME=folder:PATH``, checked as it is parsed."""

    name = "NAME=ROOT"

    def convert(self, value, param, ctx):
        from codecbench.evaluation.datasets import TestSetError, TestSetSpec, parse_testset_spec

        if isinstance(value, TestSetSpec):
            return value
        try:
            return parse_testset_spec(value)
        except TestSetError as error:
            self.fail(str(error), param, ctx)


SHOWN_SKIPPED = 20


@main.command("testsets")
@click.option(
    "--testset", "specs", multiple=True, type=TestSetSpecType(),
    help="A test set to index: NAME=ROOT for a named one, NAME=wavscp:PATH or NAME=folder:PATH for your own. Repeatable.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Draw a sample of at most this many utterances.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --limit sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per test set.")
def testsets_command(specs: tuple, limit: int | None, seed: int, as_json: bool) -> None:
    """List the named test sets, or index the given ones and report what was found and skipped.

    Indexing reads only listings and metadata, never audio, so this is a quick check of a
    ROOT before a long `evaluate` run.
    """
    import logging

    from codecbench.evaluation.datasets import NAMED_TESTSETS, GENERIC_KINDS, TestSetError, load_testset

    if not specs:
        for kind in [*NAMED_TESTSETS.values(), *GENERIC_KINDS.values()]:
            form = f"NAME={kind.name}:PATH" if kind.is_generic else f"{kind.name}=ROOT"
            click.echo(f"{form}\n    {kind.description}\n    ROOT: {kind.root_hint}")
        return
    logging.getLogger("codecbench.evaluation.datasets").setLevel(logging.ERROR)  # skips are reported below
    failed = False
    for spec in specs:
        try:
            testset = load_testset(spec, limit=limit, seed=seed)
        except TestSetError as error:
            click.echo(f"error: {error}", err=True)
            failed = True
            continue
        if as_json:
            click.echo(json.dumps({
                "name": testset.name, "kind": testset.kind, "root": str(testset.root),
                "utterances": len(testset), "total_utterances": testset.total_utterances,
                "sample": None if testset.sample is None else {"limit": testset.sample.limit, "seed": testset.sample.seed},
                "skipped": [{"id": s.id, "location": s.location, "reason": s.reason} for s in testset.skipped],
            }, ensure_ascii=False))
            continue
        click.echo(testset.summary())
        for record in testset.skipped[:SHOWN_SKIPPED]:
            click.echo(f"  skipped {record.describe()}")
        if len(testset.skipped) > SHOWN_SKIPPED:
            click.echo(f"  ... and {len(testset.skipped) - SHOWN_SKIPPED} more skipped (--json lists them all)")
    if failed:
        sys.exit(1)


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
