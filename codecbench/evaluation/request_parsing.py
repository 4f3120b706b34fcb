"""One reading of an evaluation request, for ``codecbench evaluate`` and the app's evaluate panel.

Both take the same things as text (test sets, codec requests, metrics, a limit) and must accept
and refuse the same values with the same messages; this module turns them into one validated
:class:`~codecbench.evaluation.runner.EvaluationRequest`. Each front end only splits its own
input into entries first (the command line gives one ``--codec`` per request, the panel a text
box of requests separated by spaces or lines).

Importing this module is cheap (the metric registry, the runner and the test-set loaders are
imported when a request is parsed), so the command line can read the defaults for its help.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codecbench.codecs.condition import Condition
    from codecbench.evaluation.datasets import TestSetSpec
    from codecbench.evaluation.runner import EvaluationRequest


def default_evaluation_metrics() -> tuple[str, ...]:
    """What an evaluation scores when no metric is named: the metric registry's ``core`` preset
    (ViSQOL, PESQ, STOI and SI-SNR: the rest of the default ``score`` set takes long over whole
    test sets and adds little to a ranking)."""
    from codecbench.evaluation.metrics.registry import preset

    return preset("core")


def parse_metric_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Metric names from ``"visqol, pesq"`` (comma-separated) or a list of names; blanks dropped,
    a preset of the metric registry (``core``, ``all``...) replaced by its metrics, each name once.

    The names themselves are checked by :class:`~codecbench.evaluation.metrics.ScoringConfig`.
    """
    from codecbench.evaluation.metrics.registry import expand_presets

    return expand_presets(value.split(",") if isinstance(value, str) else value)


def parse_limit(value: str | float | None) -> int | None:
    """An utterance limit: empty (or ``None``) means every utterance, else a whole number of at least 1.

    Raises:
        ValueError: anything else, saying what to type.
    """
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 1:
        raise ValueError(
            f"The utterance limit must be a whole number of at least 1, or empty for all; got {str(value).strip()!r}."
        )
    return int(number)


def parse_testsets(values: Iterable[str | TestSetSpec]) -> tuple[TestSetSpec, ...]:
    """Test sets from ``NAME=ROOT``, ``NAME=wavscp:PATH`` or ``NAME=folder:PATH`` (already parsed
    specs pass through); blank entries dropped.

    Raises:
        TestSetError: an entry of none of those forms, or naming no known test set.
    """
    from codecbench.evaluation.datasets import TestSetSpec, parse_testset_spec

    specs = []
    for value in values:
        if isinstance(value, TestSetSpec):
            specs.append(value)
        elif value.strip():
            specs.append(parse_testset_spec(value))
    return tuple(specs)


def parse_codecs(requests: Iterable[str]) -> tuple[Condition, ...]:
    """Conditions from codec requests, each ``NAME@KBPS,KBPS`` or ``NAME``, in the order given.

    Raises:
        ValueError: a request naming no codec, or a bitrate that is not a number.
    """
    from codecbench.codecs.condition import parse_codec_request

    return tuple(condition for request in requests for condition in parse_codec_request(request))


def parse_evaluation_request(
    *,
    testsets: Iterable[str | TestSetSpec],
    codecs: Iterable[str],
    metrics: str | Iterable[str] | None = None,
    visqol_protocols: Iterable[str] | None = None,
    limit: str | float | None = None,
    seed: float | None = 0,
    keep_audio_dir: Path | None = None,
    retry_failed: bool = False,
    model_dirs: Mapping[str, Path] | None = None,
    device: str = "cpu",
    max_duration_s: float | None = None,
) -> EvaluationRequest:
    """Read and check everything an evaluation is asked for.

    Args:
        testsets: test-set specs (see :func:`parse_testsets`).
        codecs: codec requests (see :func:`parse_codecs`).
        metrics: comma-separated names or a list of them; ``None``: :func:`default_evaluation_metrics`.
        visqol_protocols: ViSQOL protocols; ``None``: the default one. An empty list asks for
            none, which ``visqol`` refuses.
        limit: at most this many utterances per test set (see :func:`parse_limit`); ``None``: all.
        seed: seed of the ``limit`` sample (``None``: 0).
        keep_audio_dir, retry_failed, model_dirs, device, max_duration_s: as in
            :class:`~codecbench.evaluation.runner.EvaluationRequest`.

    Raises:
        TestSetError: a test set that cannot be parsed.
        ValueError: anything else that is wrong (unknown metric or protocol, a bad codec request
            or limit, no test set or codec), with what to write instead.
    """
    from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, ScoringConfig
    from codecbench.evaluation.runner import EvaluationRequest

    parsed_testsets, conditions = parse_testsets(testsets), parse_codecs(codecs)
    scoring = ScoringConfig(
        default_evaluation_metrics() if metrics is None else parse_metric_names(metrics),
        (DEFAULT_VISQOL_PROTOCOL,) if visqol_protocols is None else tuple(visqol_protocols),
    )
    return EvaluationRequest(
        testsets=parsed_testsets,
        conditions=conditions,
        scoring=scoring,
        limit=parse_limit(limit),
        seed=int(seed or 0),
        keep_audio_dir=keep_audio_dir,
        retry_failed=retry_failed,
        model_dirs=dict(model_dirs or {}),
        device=device,
        max_duration_s=max_duration_s,
    )
