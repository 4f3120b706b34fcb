"""``codecbench reproduce``: check a published table in one command.

A thin wrapper over :mod:`codecbench.evaluation.reproduce`; heavy imports stay inside the command.
"""

from __future__ import annotations

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
from codecbench.cli.options import database_option, device_option, model_dir_for, model_dir_option


@click.command("reproduce")
@click.argument("table_name", metavar="TABLE", required=False)
@click.option("--list", "list_tables", is_flag=True, help="Describe TABLE (or every published table) and exit.")
@click.option(
    "--testset", "specs", multiple=True, type=TestSetSpecType(),
    help="Where a row of the table is: NAME=ROOT, NAME a codecbench test set the table has a row for "
    "(`--list` shows them). Repeatable; rows not given are reported as not run.",
)
@model_dir_option(several_codecs=False, help="Run the table's model from this local copy of its files instead of "
                  "codecbench's Hub cache (CODEC=DIR: the same, naming the table's codec).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Evaluate a reproducible sample of at most this many utterances per test set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --limit sample.")
@engine_options
@device_option("Where the model runs: cpu, cuda or cuda:N.")
@database_option
@click.option("--format", "output_format", type=click.Choice(["markdown", "csv"]), default="markdown",
              show_default=True, help="markdown: a table with a header naming source, model, metric and protocol; "
              "csv: one row per test set × operating point, with provenance.")
@click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--chart", "chart_path", type=click.Path(path_type=Path), default=None,
              help="Also write a plotly chart of published vs measured values (with 95 % CI bars) to this .html file.")
def reproduce_command(
    table_name: str | None, list_tables: bool, specs: tuple, model_dir: str | None, limit: int | None, seed: int,
    executor: str, ray_address: str | None, workers: int | None, batch_size: int, device: str, database_url: str | None, output_format: str,
    output_path: Path | None, chart_path: Path | None,
) -> None:
    """Run the evaluation behind published TABLE and print published vs measured side by side.

    The table's model runs at each of its operating points on the test sets given, scored with
    its metric under the protocol that measures what the authors measured, through the same
    engine and database as `evaluate` (resumable: running it again computes only what is not
    stored, and `codecbench leaderboard` shows the same cells). Each row shows the published
    value, the measured mean ± 95 % CI with n, Δ = measured − published, and whether the
    published value lies inside the interval; rows not given, or whose ROOT does not hold the
    test set, say why they were not run.
    """
    from codecbench.codecs import CodecNotReadyError
    from codecbench.evaluation.progress import TerminalProgress
    from codecbench.evaluation.published import PUBLISHED_TABLES, UnknownTableError, get_table
    from codecbench.evaluation.reproduce import ReproductionRequest, plan_reproduction, run_reproduction

    engine = EngineChoice.from_options(executor, workers, batch_size, ray_address)
    if list_tables:
        try:
            tables = list(PUBLISHED_TABLES.values()) if table_name is None else [get_table(table_name)]
        except UnknownTableError as error:
            raise click.ClickException(str(error)) from None
        click.echo("\n\n".join(table.describe() for table in tables))
        return
    if table_name is None:
        raise click.UsageError(f"name a published table ({', '.join(PUBLISHED_TABLES)}), or pass --list.")
    check_writable(output_path, "-o/--output")
    check_writable(chart_path, "--chart")
    if chart_path is not None and chart_path.suffix.lower() not in (".html", ".htm"):
        raise click.ClickException(f"--chart {chart_path}: is not an .html file; the chart is written as HTML.")
    try:
        table = get_table(table_name)
        check_evaluation_database(database_url)
        request = ReproductionRequest(table, specs, model_dir=model_dir_for(table.codec, model_dir), limit=limit,
                                      seed=seed, device=device)
        plan = plan_reproduction(request)
    except (UnknownTableError, CodecNotReadyError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    unreadable = {spec.name: plan.not_run[spec.name] for spec in specs if spec.name in plan.not_run}
    if plan.evaluation is None:
        raise click.ClickException("none of the given test sets can be read, so nothing was run:\n" + "\n".join(
            f"  {reason}" for reason in unreadable.values()))
    for name, reason in unreadable.items():
        click.echo(f"warning: {name} is not run: {reason}", err=True)
    reproduction = run_on_engine(
        database_url, plan.evaluation, engine,
        lambda database, executor: run_reproduction(database, plan, executor, TerminalProgress()),
    )
    if reproduction.summary is not None:
        click.echo(reproduction.summary.describe(), err=True)
    try:
        _write_outputs(reproduction, output_format, output_path, chart_path)
    except OSError as error:
        raise click.ClickException(f"the results are stored, but the output could not be written: {error}") from None


def _write_outputs(reproduction, output_format: str, output_path: Path | None, chart_path: Path | None) -> None:
    from codecbench.evaluation.results import write_csv
    from codecbench.untrusted_text import spreadsheet_safe

    if output_format == "csv":
        frame = reproduction.csv_frame()
        if output_path is None:
            click.echo(spreadsheet_safe(frame).to_csv(index=False), nl=False)
        else:
            write_csv(frame, output_path)
    elif output_path is None:
        click.echo(reproduction.markdown(), nl=False)
    else:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        output_path.write_text(reproduction.markdown(), encoding="utf-8")
    if output_path is not None:
        click.echo(f"wrote {len(reproduction.rows)} row(s) to {output_path}", err=True)
    if chart_path is not None:
        chart_path.parent.mkdir(parents=True, exist_ok=True)
        # plotly.js embedded, so that the chart also opens on a machine without internet
        reproduction.chart().write_html(chart_path, include_plotlyjs=True)
        click.echo(f"wrote the chart to {chart_path}", err=True)
