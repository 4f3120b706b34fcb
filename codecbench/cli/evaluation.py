"""The evaluation commands: ``testsets``, ``evaluate``, ``leaderboard`` and ``export`` (``scores``, ``tokens``).

Thin wrappers over :mod:`codecbench.evaluation`; heavy imports stay inside the commands.
``evaluate`` reads its request with :func:`codecbench.evaluation.request_parsing.parse_evaluation_request`,
as the app's evaluate panel does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codecbench.cli.checks import check_writable
from codecbench.cli.engine import (
    EngineChoice,
    TestSetSpecType,
    check_evaluation_database,
    engine_options,
    run_on_engine,
)
from codecbench.cli.options import (
    LazyHelpOption,
    database_option,
    device_option,
    max_duration_option,
    metrics_option,
    model_dir_option,
    model_dirs_by_codec,
    opened_database,
    visqol_protocol_option,
)


def evaluation_default_metrics() -> tuple[str, ...]:
    """What ``evaluate`` computes when no metric is named (the evaluate panel's default too)."""
    from codecbench.evaluation.request_parsing import default_evaluation_metrics

    return default_evaluation_metrics()


SHOWN_SKIPPED = 20


@click.command("testsets")
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

    from codecbench.evaluation.datasets import GENERIC_KINDS, NAMED_TESTSETS, TestSetError, load_testset

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


@click.command("evaluate")
@click.option(
    "--testset", "specs", multiple=True, required=True, type=TestSetSpecType(),
    help="A test set: NAME=ROOT for a named one (`codecbench testsets` lists them), NAME=wavscp:PATH or "
    "NAME=folder:PATH for your own. Repeatable.",
)
@click.option(
    "--codec", "codecs", multiple=True, required=True, metavar="NAME@KBPS,KBPS",
    help="A codec and its bitrates in kbps (opus@6,12), or a codec with one operating point (lowpass_3500). Repeatable.",
)
@metrics_option(default_from=evaluation_default_metrics, flags=("--metrics",))
@visqol_protocol_option
@engine_options
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Evaluate a reproducible sample of at most this many utterances per test set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --limit sample.")
@click.option("--keep-audio", "keep_audio_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep every reconstruction as DIR/TESTSET/CODEC@KBPS[+CHECKPOINT]/UTTERANCE.flac (names "
              "percent-encoded; the Leaderboard page plays them).")
@click.option("--retry-failed", is_flag=True, help="Compute again the units and metrics stored as failed.")
@max_duration_option("Utterances longer than this many seconds fail with the reason (raise it and pass "
                     "--retry-failed to compute them).")
@database_option
@model_dir_option(several_codecs=True)
@device_option()
def evaluate_command(
    specs: tuple, codecs: tuple[str, ...], metrics: str | None, visqol_protocols: tuple[str, ...], executor: str,
    ray_address: str | None, workers: int | None, batch_size: int, limit: int | None, seed: int,
    keep_audio_dir: Path | None, retry_failed: bool, max_duration: float, database_url: str | None,
    model_dirs: tuple[str, ...], device: str,
) -> None:
    """Score every utterance of the test sets through every codec condition, into the database.

    Each utterance × condition is transcoded once, scored with every metric, and committed as
    soon as it is done: running the same command again computes only what is not stored yet,
    and an interrupted run (Ctrl-C, kill, a crash) continues where it stopped. Failures are
    stored with their error and counted in the summary printed at the end.
    """
    from codecbench.codecs import CodecNotReadyError
    from codecbench.evaluation.datasets import TestSetError
    from codecbench.evaluation.progress import TerminalProgress
    from codecbench.evaluation.request_parsing import parse_evaluation_request
    from codecbench.evaluation.runner import plan_evaluation, run_evaluation

    model_dirs_by_name = model_dirs_by_codec(model_dirs)
    engine = EngineChoice.from_options(executor, workers, batch_size, ray_address)
    try:
        check_evaluation_database(database_url)
        request = parse_evaluation_request(
            testsets=specs, codecs=codecs, metrics=metrics, visqol_protocols=visqol_protocols or None,
            limit=limit, seed=seed, keep_audio_dir=None if keep_audio_dir is None else keep_audio_dir.absolute(),
            retry_failed=retry_failed, model_dirs=model_dirs_by_name, device=device, max_duration_s=max_duration,
        )
        plan = plan_evaluation(request)
    except (TestSetError, CodecNotReadyError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    summary = run_on_engine(
        database_url, plan, engine,
        lambda database, executor: run_evaluation(database, plan, executor, TerminalProgress()),
        keep_audio_dir=request.keep_audio_dir,
    )
    click.echo(summary.describe())


def _leaderboard_metric_help() -> str:
    from codecbench.evaluation.metrics.registry import FACTS

    return (f"Metric as stored: {', '.join(FACTS)} (pesq: whichever of pesq_wb and pesq_nb is stored).  "
            "[default: visqol, or the first metric with values when no ViSQOL score is stored]")


def _leaderboard_protocol_help() -> str:
    from codecbench.evaluation.metrics.registry import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOL_NAMES

    return (f"Its protocol (ViSQOL: {', '.join(VISQOL_PROTOCOL_NAMES)}); may be left out when only one is stored "
            f"(ViSQOL by default: {DEFAULT_VISQOL_PROTOCOL} when stored).")


@click.command("leaderboard")
@click.option("--metric", default=None, cls=LazyHelpOption, help_from=_leaderboard_metric_help)
@click.option("--protocol", default=None, cls=LazyHelpOption, help_from=_leaderboard_protocol_help)
@click.option("--testset", "testsets", multiple=True, help="Only this test set (repeatable; default: all).")
@click.option("--codec", "codecs", multiple=True, help="Only this codec (repeatable; default: all).")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "csv"]), default="text",
              show_default=True,
              help="text: one table per codec, then a ranking of all conditions (average over test sets, kbps, "
              "measured kbps, tokens/s, n warnings; for token codecs entropy-coded kbps, codebook use and entropy "
              "per token); markdown: the same as Markdown tables; csv: one row per test "
              "set × condition with provenance and its condition's average and notes.")
@click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--charts", "charts_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a quality-vs-bitrate chart per test set here (TESTSET.html, plotly; token codecs "
              "also dotted at their entropy-coded kbps; plotly.min.js is written beside them, so they open offline).")
@click.option("--all-metrics", is_flag=True,
              help="text and markdown: also a table of every stored metric at once (each condition's average).")
@database_option
def leaderboard_command(
    metric: str | None, protocol: str | None, testsets: tuple[str, ...], codecs: tuple[str, ...], output_format: str,
    output_path: Path | None, charts_dir: Path | None, all_metrics: bool, database_url: str | None,
) -> None:
    """Leaderboards of one metric and protocol: per codec (rows: test sets; columns: operating
    points), then a ranking of every condition; every cell the mean ± 95 % CI, n, and failures.

    The average of a condition is the mean of its test-set means over the test sets it has
    values on; a row missing a test set is marked (* in text, and in its note).
    """
    from codecbench.evaluation.leaderboard import Leaderboard, LeaderboardError
    from codecbench.evaluation.leaderboard_charts import write_charts
    from codecbench.evaluation.leaderboard_views import (
        DEFAULT_METRIC,
        boards_with_values,
        csv_with_ranking,
        default_metric_choice,
        leaderboard_markdown,
        leaderboard_text,
        metrics_markdown,
        metrics_text,
    )
    from codecbench.evaluation.results import metrics_with_values, write_csv
    from codecbench.untrusted_text import spreadsheet_safe, terminal_safe

    check_writable(output_path, "-o/--output")
    if charts_dir is not None:
        check_writable(charts_dir / "chart.html", "--charts")
    with opened_database(database_url) as database, database.session(read_only=True) as session:
        try:
            if metric is None and protocol is not None:
                metric = DEFAULT_METRIC
            if metric is None:
                choice = default_metric_choice(metrics_with_values(session))
                metric, protocol = choice.metric, choice.protocol
                if choice.note:
                    click.echo(terminal_safe(choice.note), err=True)
            board = Leaderboard.from_database(session, metric, protocol, testsets=testsets or None, codecs=codecs or None)
            others = boards_with_values(session, metrics_with_values(session), testsets or None, codecs or None) \
                if all_metrics else ()
        except LeaderboardError as error:
            raise click.ClickException(str(error)) from None
    if output_format == "csv":
        if all_metrics:
            click.echo("warning: --all-metrics adds a table to text and markdown output; the CSV has one "
                       "metric's cells (run once per --metric, or `codecbench export scores` for every score).", err=True)
        frame = csv_with_ranking(board)
        if output_path is None:
            click.echo(spreadsheet_safe(frame).to_csv(index=False), nl=False)
        else:
            write_csv(frame, output_path)
            click.echo(f"wrote {len(board.cells)} cell(s) to {output_path}", err=True)
    else:
        markdown = output_format == "markdown"
        text = leaderboard_markdown(board) if markdown else leaderboard_text(board)
        if others:
            text += "\n\n" + (metrics_markdown(others) if markdown else metrics_text(others))
        if output_path is None:
            click.echo(terminal_safe(text))
        else:
            output_path.write_text(text + "\n", encoding="utf-8")
    if charts_dir is not None:
        written = write_charts(board, charts_dir)
        click.echo(f"wrote {len(written)} chart(s) and plotly.min.js to {charts_dir}", err=True)


@click.group("export")
def export_group() -> None:
    """Export stored results."""


@export_group.command("scores")
@click.option("--format", "output_format", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), default=None,
              help="File to write (default: stdout).")
@click.option("--testset", "testsets", multiple=True, help="Only this test set (repeatable; default: all).")
@click.option("--codec", "codecs", multiple=True, help="Only this codec (repeatable; default: all).")
@click.option("--metric", "metrics", multiple=True,
              help="Only this metric, as stored (pesq_wb) or as asked for (pesq: whichever variant is stored); repeatable.")
@database_option
def export_scores_command(
    output_format: str, output_path: Path | None, testsets: tuple[str, ...], codecs: tuple[str, ...],
    metrics: tuple[str, ...], database_url: str | None,
) -> None:
    """Every stored score: one row per utterance × condition × metric, with provenance (codecbench
    version, codec and checkpoint, test set and its size, metric, protocol, implementation).

    A unit that failed before any metric ran has one row with an empty metric and its error.
    """
    from codecbench.evaluation.results import MetricNotStoredError, export_scores

    check_writable(output_path, "-o/--output")
    with opened_database(database_url) as database, database.session(read_only=True) as session:
        try:
            frame = export_scores(session, testsets=testsets or None, codecs=codecs or None, metrics=metrics or None)
        except MetricNotStoredError as error:
            raise click.ClickException(str(error)) from None
    _write_export(frame, output_path)


@export_group.command("tokens")
@click.option("--format", "output_format", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), default=None,
              help="File to write (default: stdout).")
@click.option("--testset", "testsets", multiple=True, help="Only this test set (repeatable; default: all).")
@click.option("--codec", "codecs", multiple=True, help="Only this codec (repeatable; default: all).")
@database_option
def export_tokens_command(
    output_format: str, output_path: Path | None, testsets: tuple[str, ...], codecs: tuple[str, ...],
    database_url: str | None,
) -> None:
    """Every token figure of the token (neural) codecs: one row per test set × condition × code
    stream × codebook (utilisation, entries used, top-1 % share, entropy and its plug-in value,
    perplexity, entropies given the previous frame and the previous codebook with the tokens and
    contexts each rests on, the stream's entropy-coded size and kbps, nominal and measured kbps),
    with provenance (codec and checkpoint, codecbench version, estimator, coder, warnings).

    Classical codecs and anchors send no tokens, so they have no rows; an export without any
    row is refused with what is stored.
    """
    from codecbench.evaluation.token_summary import NoTokenRecordsError, export_tokens

    check_writable(output_path, "-o/--output")
    with opened_database(database_url) as database, database.session(read_only=True) as session:
        try:
            frame = export_tokens(session, testsets=testsets or None, codecs=codecs or None)
        except NoTokenRecordsError as error:
            raise click.ClickException(str(error)) from None
    _write_export(frame, output_path)


def _write_export(frame, output_path: Path | None) -> None:
    """An export's rows as CSV: to stdout (every text cell spreadsheet-safe), or to ``output_path``."""
    from codecbench.evaluation.results import write_csv
    from codecbench.untrusted_text import spreadsheet_safe

    if output_path is None:
        click.echo(spreadsheet_safe(frame).to_csv(index=False), nl=False)
    else:
        write_csv(frame, output_path)
        click.echo(f"wrote {len(frame)} row(s) to {output_path}", err=True)
