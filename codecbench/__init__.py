"""codecbench: evaluation and listening tests for neural speech codecs."""

__version__ = "0.1.0"
