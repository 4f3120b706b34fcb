"""Objective evaluation: test-set loaders, metrics, the runner and leaderboards."""
