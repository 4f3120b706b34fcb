"""Objective evaluation: test-set loaders, metrics, the runner and leaderboards.

- :mod:`~codecbench.evaluation.datasets`: test sets as utterances (``--testset``);
- :mod:`~codecbench.evaluation.metrics`: ViSQOL, PESQ, STOI, SI-SNR, ... with one API;
- :mod:`~codecbench.evaluation.runner`: ``codecbench evaluate`` (units of work, resumable,
  stored through :mod:`~codecbench.evaluation.store`), run by an
  :mod:`~codecbench.evaluation.executor`;
- :mod:`~codecbench.evaluation.leaderboard` and :mod:`~codecbench.evaluation.results`: tables,
  charts and the per-utterance export;
- :mod:`~codecbench.evaluation.published` and :mod:`~codecbench.evaluation.reproduce`:
  published tables as data, and ``codecbench reproduce`` (run one, compare published and measured).

Nothing is imported here, so that metric worker processes load only what they use.
"""
