"""Evaluation: objective metrics (:mod:`codecbench.evaluation.metrics`), and later the
test-set loaders, runner and leaderboards built on them."""
