"""Objective evaluation: test-set loaders, metrics (:mod:`codecbench.evaluation.metrics`), the runner and leaderboards."""
