"""``codecbench score``: the metrics of one reference and degraded pair.

A thin wrapper over :mod:`codecbench.evaluation.metrics`; heavy imports stay inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codecbench.cli.options import max_duration_option, metrics_option, visqol_protocol_option


def score_default_metrics() -> tuple[str, ...]:
    """What ``score`` computes when no metric is named: the registry's default."""
    from codecbench.evaluation.metrics.registry import DEFAULT_METRICS

    return DEFAULT_METRICS


@click.command("score")
@click.argument("reference_path", metavar="REFERENCE", type=click.Path(path_type=Path))
@click.argument("degraded_path", metavar="DEGRADED", type=click.Path(path_type=Path))
@metrics_option(default_from=score_default_metrics)
@visqol_protocol_option
@click.option(
    "--max-delay", type=float, default=0.5, show_default=True,
    help="Largest delay of DEGRADED behind REFERENCE that alignment looks for, in seconds.",
)
@max_duration_option("Refuse files longer than this many seconds.")
def score_command(
    reference_path: Path, degraded_path: Path, metrics: str | None, visqol_protocols: tuple[str, ...], max_delay: float,
    max_duration: float,
) -> None:
    """Score DEGRADED against REFERENCE; print one JSON object per metric.

    Each object has metric, value (null if it could not be computed), error (null, or why
    not), protocol, implementation, and the alignment found (delay_samples at the
    reference's rate, gain_db). The files may have different sample rates.
    """
    from codecbench.evaluation.metrics import MetricError, ScoringConfig, prepare_pair, score_prepared_pair
    from codecbench.evaluation.request_parsing import parse_metric_names

    options: dict = {"max_delay_s": max_delay}
    if metrics is not None:
        options["metrics"] = parse_metric_names(metrics)
    if visqol_protocols:
        options["visqol_protocols"] = visqol_protocols
    try:
        config = ScoringConfig(**options)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    try:
        pair = prepare_pair(reference_path, degraded_path, max_delay_s=config.max_delay_s, max_duration_s=max_duration)
    except MetricError as error:
        raise click.ClickException(str(error)) from None
    for warning in pair.warnings:
        click.echo(f"warning: {warning}", err=True)
    for result in score_prepared_pair(pair, config):
        click.echo(json.dumps(result.to_dict()))
