"""What every metric is: a name with its variant, a protocol, an implementation, and a function
from a :class:`PreparedPair` to a number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from codecbench.evaluation.metrics.pair import PreparedPair


@dataclass(frozen=True)
class Metric:
    """One metric variant, ready to score pairs.

    Args:
        name: the name results carry, including the variant (``pesq_wb``, ``estoi``).
        protocol: how the number is made, stable enough to group stored scores by.
        packages: the packages that compute it, reported with their versions.
        compute: the value for a pair; raises :class:`MetricError` when there is none.
        uses_alignment: whether ``compute`` works on the delay- and gain-aligned degraded
            signal (metrics with their own alignment, ViSQOL and PESQ, get the signal as is).
        method: what computes it, when that is not simply the packages (codecbench's own
            ViSQOL engine, which follows visqol-python).

    What a metric needs, its label and direction are facts of its name in
    :mod:`~codecbench.evaluation.metrics.registry`, not of this object.
    """

    name: str
    protocol: str
    packages: tuple[str, ...]
    compute: Callable[[PreparedPair], float]
    uses_alignment: bool
    method: str | None = None

    @property
    def implementation(self) -> str:
        """The packages with their versions, after the method when it is not the packages'
        own (``codecbench ViSQOL engine (codecbench 0.1.0, visqol-python 3.8.0)``)."""
        packages = ", ".join(f"{package} {package_version(package)}" for package in self.packages)
        return f"{self.method} ({packages})" if self.method else packages


@cache
def package_version(package: str) -> str:
    """The installed version of ``package`` (``codecbench`` included), or ``unknown``."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
