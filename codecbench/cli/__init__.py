"""The ``codecbench`` command: one sub-command per job, each a thin wrapper over the library.

One module per command group, each registered here by name (nothing is registered as a side
effect of an import):

- :mod:`~codecbench.cli.codecs`: ``codecs``, ``download``, ``transcode``, ``convert-voice``
- :mod:`~codecbench.cli.score`: ``score``
- :mod:`~codecbench.cli.tokens`: ``tokens``
- :mod:`~codecbench.cli.evaluation`: ``testsets``, ``evaluate``, ``leaderboard``, ``export``
- :mod:`~codecbench.cli.reproduce`: ``reproduce``
- :mod:`~codecbench.cli.mushra`: ``mushra create|list|results|export``
- :mod:`~codecbench.cli.app`: ``app``
- :mod:`~codecbench.cli.db`: ``db upgrade|current``

Shared options (``--device``, ``--db``, ``--model-dir``, ``--max-duration``, ...) are in
:mod:`~codecbench.cli.options`, checks of outputs and durations in :mod:`~codecbench.cli.checks`,
what ``evaluate`` and ``reproduce`` share in :mod:`~codecbench.cli.engine`. Importing this
package imports click and nothing heavy: ``codecbench --help`` stays fast.
"""

from __future__ import annotations

import click

from codecbench import __version__
from codecbench.cli import app, codecs, db, evaluation, mushra, reproduce, score, tokens
from codecbench.evaluation.metrics.registry import selected_visqol_engine


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codecbench")
def main() -> None:
    """Evaluate speech codecs: listen side by side, score test sets, run MUSHRA tests."""
    try:
        selected_visqol_engine()  # a mistyped engine fails here, not in the middle of a run
    except ValueError as error:
        raise click.UsageError(str(error)) from None


for _command in (
    codecs.codecs_command,
    codecs.download_command,
    codecs.transcode_command,
    codecs.convert_voice_command,
    score.score_command,
    tokens.tokens_command,
    evaluation.testsets_command,
    evaluation.evaluate_command,
    evaluation.leaderboard_command,
    evaluation.export_group,
    reproduce.reproduce_command,
    mushra.mushra_group,
    app.app_command,
    db.db_group,
):
    main.add_command(_command)

__all__ = ["main"]
