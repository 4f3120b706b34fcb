"""Every fact about every metric, in one place: what users ask for, what results carry, and how
to read a number (label, unit, direction, range, what the metric needs).

Two kinds of names:

- a **metric name** is what a user asks for (``--metrics visqol,pesq,dnsmos``), one
  :class:`MetricEntry` each, in :data:`ENTRIES`;
- a **result name** is what a :class:`~codecbench.evaluation.metrics.MetricResult` and the
  database carry: the variant (``pesq_wb``, ``dnsmos_sig``), one :class:`MetricFacts` each.
  ``pesq`` yields ``pesq_wb`` or ``pesq_nb``; ``dnsmos`` yields its four scores.

Pages, the CLI help, the leaderboard and the export read these facts through the helpers
below (:func:`metric_label`, :func:`lower_is_better`, :func:`preset`, :func:`metric_help_text`,
...). Importing this module imports nothing beyond the standard library: the code that
computes a metric is named by a ``"module:attribute"`` string and imported only when a metric
is resolved for scoring, so ``codecbench --help`` stays fast.

Adding a metric: write its module (a :class:`~codecbench.evaluation.metrics.base.Metric`, or a
function of a :class:`Resolution` giving a list of them), add its entry here, and its test.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from codecbench.evaluation.metrics.base import Metric

Alignment = Literal["own", "codecbench", "none"]


@dataclass(frozen=True)
class MetricNeeds:
    """What a metric needs of a pair.

    Args:
        reference: whether it compares against the reference (full reference, intrusive);
            ``False`` for a non-intrusive metric that scores the degraded signal alone.
        run_rate_hz: the rate both signals are resampled to before scoring; ``None``: the
            reference's own rate (or, for ViSQOL, the rate its protocol names).
        min_reference_rate_hz: references sampled below this are refused with a reason.
        waveform_coherence: whether it compares waveforms sample by sample, and so says
            nothing about a codec that synthesises its own phase (a vocoder).
        alignment: ``"own"``: it finds the delay itself and gets the degraded signal as it is;
            ``"codecbench"``: it runs on codecbench's delay- and gain-aligned copy;
            ``"none"``: it does not compare time lines (non-intrusive).
    """

    reference: bool = True
    run_rate_hz: int | None = None
    min_reference_rate_hz: int | None = None
    waveform_coherence: bool = False
    alignment: Alignment = "codecbench"

    def describe(self) -> str:
        """The needs in a few words (``full reference, 16 kHz, aligns itself``)."""
        parts = ["full reference" if self.reference else "no reference (non-intrusive)"]
        if self.run_rate_hz:
            parts.append(f"runs at {self.run_rate_hz / 1000:g} kHz")
        if self.min_reference_rate_hz:
            parts.append(f"references of {self.min_reference_rate_hz / 1000:g} kHz or more")
        parts.append({"own": "aligns itself", "codecbench": "on the aligned signal", "none": "no alignment"}[self.alignment])
        if self.waveform_coherence:
            parts.append("waveform-coherent codecs only")
        return ", ".join(parts)


@dataclass(frozen=True)
class MetricFacts:
    """How to read the numbers stored under one result name.

    Args:
        name: the result name (``pesq_wb``, ``dnsmos_ovrl``).
        label: the display label (``PESQ-WB``, ``DNSMOS OVRL``).
        unit: ``"MOS"``, ``"dB"``, or ``""`` for a plain number.
        lower_is_better: ``True`` for distances, ``False`` for quality and intelligibility.
        value_range: the nominal range of values; ``None`` on a side without a bound.
        description: one line for help texts.
        needs: what the metric needs of a pair.
        protocol_in_label: whether labels name the protocol too, because the same result name
            gives different numbers under different protocols (ViSQOL).
    """

    name: str
    label: str
    unit: str
    lower_is_better: bool
    value_range: tuple[float | None, float | None]
    description: str
    needs: MetricNeeds
    protocol_in_label: bool = False

    @property
    def direction(self) -> str:
        return "lower is better" if self.lower_is_better else "higher is better"


@dataclass(frozen=True)
class Resolution:
    """What a metric's factory knows when it picks the variants to run on a pair."""

    reference_rate_hz: int
    visqol_protocols: tuple[str, ...]


@dataclass(frozen=True)
class MetricEntry:
    """A metric name users ask for.

    Args:
        name: the name in ``--metrics``.
        description: one line for help texts.
        results: the facts of every result name it can yield (``pesq``: ``pesq_wb`` and ``pesq_nb``).
        presets: the presets it belongs to (see :data:`PRESETS`).
        factory: ``"module:attribute"`` of a :class:`Metric` or of a function of a
            :class:`Resolution` that gives the variants to run; imported only when used.
        label: the display label of the name itself; ``None``: its only result's label.
        warm_up: ``"module:function"`` that loads the metric's models or compiles its kernels
            in a process, given a :class:`Resolution`; pool workers call it as they start.
    """

    name: str
    description: str
    results: tuple[MetricFacts, ...]
    presets: tuple[str, ...]
    factory: str
    label: str | None = None
    warm_up: str | None = None

    def __post_init__(self) -> None:
        if self.label is None and len(self.results) != 1:
            raise ValueError(f"metric {self.name} yields several results and needs its own label")
        unknown = set(self.presets) - set(PRESETS)
        if unknown:
            raise ValueError(f"metric {self.name}: unknown presets {sorted(unknown)}; choose from {', '.join(PRESETS)}")

    @property
    def display_label(self) -> str:
        return self.label or self.results[0].label

    def metrics(self, resolution: Resolution) -> list[Metric]:
        """The metric variants to run for ``resolution`` (imports the computing module)."""
        target = _load(self.factory)
        return target(resolution) if callable(target) and not _is_metric(target) else [target]


def _load(reference: str) -> Any:
    """The attribute a ``"module:attribute"`` string names, importing its module."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _is_metric(target: object) -> bool:
    from codecbench.evaluation.metrics.base import Metric

    return isinstance(target, Metric)


# ------------------------------------------------------------------------------- facts

#: The ViSQOL protocols' names, for help texts and checks that must not load the audio stack;
#: their definitions are :data:`codecbench.evaluation.metrics.visqol.VISQOL_PROTOCOLS`.
VISQOL_PROTOCOL_NAMES = ("speech", "speech-exp", "audio", "audio-native")
DEFAULT_VISQOL_PROTOCOL = "speech"
# What computes ViSQOL: codecbench's engine (the default) or visqol-python itself; the same numbers.
VISQOL_ENGINES = ("codecbench", "visqol-python")
VISQOL_ENGINE_VARIABLE = "CODECBENCH_VISQOL_ENGINE"


def selected_visqol_engine() -> str:
    """The ViSQOL engine this process uses: ``$CODECBENCH_VISQOL_ENGINE``, else codecbench's.

    Raises:
        ValueError: the variable names no engine.
    """
    engine = os.environ.get(VISQOL_ENGINE_VARIABLE, "").strip() or VISQOL_ENGINES[0]
    if engine not in VISQOL_ENGINES:
        raise ValueError(
            f"{VISQOL_ENGINE_VARIABLE}={engine!r} is not a ViSQOL engine; choose one of {', '.join(VISQOL_ENGINES)}"
        )
    return engine


_MOS = (1.0, 5.0)
_OWN_16K = MetricNeeds(run_rate_hz=16_000, min_reference_rate_hz=16_000, alignment="own")

VISQOL = MetricFacts(
    "visqol", "ViSQOL", "MOS", False, _MOS,
    f"ViSQOL MOS-LQO under each chosen protocol ({', '.join(VISQOL_PROTOCOL_NAMES)})",
    MetricNeeds(min_reference_rate_hz=8_000, alignment="own"), protocol_in_label=True,
)
PESQ_WB = MetricFacts(
    "pesq_wb", "PESQ-WB", "MOS", False, (1.04, 4.64),
    "PESQ wide-band (P.862.2) at 16 kHz, MOS-LQO up to about 4.64", _OWN_16K,
)
PESQ_NB = MetricFacts(
    "pesq_nb", "PESQ-NB", "MOS", False, (1.02, 4.55),
    "PESQ narrow-band (P.862 + P.862.1 mapping) at 8 kHz, MOS-LQO up to about 4.55",
    MetricNeeds(run_rate_hz=8_000, min_reference_rate_hz=8_000, alignment="own"),
)
STOI = MetricFacts("stoi", "STOI", "", False, (-1.0, 1.0), "STOI intelligibility (0-1) on the aligned signal",
                   MetricNeeds(run_rate_hz=10_000))
ESTOI = MetricFacts("estoi", "ESTOI", "", False, (-1.0, 1.0), "extended STOI (0-1) on the aligned signal",
                    MetricNeeds(run_rate_hz=10_000))
SISNR = MetricFacts(
    "sisnr", "SI-SNR", "dB", False, (None, 100.0),
    "scale-invariant SNR in dB on the aligned signal (capped at 100 dB)", MetricNeeds(waveform_coherence=True),
)
MEL = MetricFacts("mel", "Log-mel distance", "dB", True, (0.0, None),
                  "log-mel distance in dB on the aligned, level-matched signal (0 = identical)", MetricNeeds())
MRSTFT = MetricFacts("mrstft", "MR-STFT distance", "", True, (0.0, None),
                     "multi-resolution STFT distance on the aligned, level-matched signal (0 = identical)", MetricNeeds())

_DNSMOS_NEEDS = MetricNeeds(reference=False, run_rate_hz=16_000, min_reference_rate_hz=16_000, alignment="none")
DNSMOS_SIG = MetricFacts("dnsmos_sig", "DNSMOS SIG", "MOS", False, _MOS,
                         "DNSMOS P.835 speech signal quality (SIG), no reference", _DNSMOS_NEEDS)
DNSMOS_BAK = MetricFacts("dnsmos_bak", "DNSMOS BAK", "MOS", False, _MOS,
                         "DNSMOS P.835 background noise quality (BAK), no reference", _DNSMOS_NEEDS)
DNSMOS_OVRL = MetricFacts("dnsmos_ovrl", "DNSMOS OVRL", "MOS", False, _MOS,
                          "DNSMOS P.835 overall quality (OVRL), no reference", _DNSMOS_NEEDS)
DNSMOS_P808 = MetricFacts("dnsmos_p808", "DNSMOS P.808", "MOS", False, _MOS,
                          "DNSMOS P.808 overall MOS, no reference", _DNSMOS_NEEDS)
WARPQ = MetricFacts(
    "warpq", "WARP-Q", "", True, (0.0, None),
    "WARP-Q raw score (MFCC subsequence-DTW cost; lower is better), made for generative speech codecs",
    _OWN_16K,
)

# ------------------------------------------------------------------------------ entries

PRESETS: dict[str, str] = {
    "standard": "the full-reference set `codecbench score` computes when no metric is named",
    "core": "ViSQOL, PESQ, STOI and SI-SNR: what `codecbench evaluate`, the app and the Listen page compute",
    "quick": "the fast ones: everything in standard but ViSQOL",
    "all": "every metric (pesq chooses between pesq_wb and pesq_nb)",
}


_M = "codecbench.evaluation.metrics"
ENTRIES: dict[str, MetricEntry] = {
    entry.name: entry
    for entry in (
        MetricEntry("visqol", VISQOL.description, (VISQOL,), ("standard", "core", "all"), f"{_M}.visqol:visqol_metrics",
                    warm_up=f"{_M}.visqol:warm_up_for"),
        MetricEntry("pesq", "PESQ: pesq_wb for references sampled at 16 kHz or more, else pesq_nb",
                    (PESQ_WB, PESQ_NB), ("standard", "core", "quick", "all"), f"{_M}.pesq:pesq_metrics", "PESQ"),
        MetricEntry("pesq_wb", PESQ_WB.description, (PESQ_WB,), (), f"{_M}.pesq:PESQ_WB_METRIC"),
        MetricEntry("pesq_nb", PESQ_NB.description, (PESQ_NB,), (), f"{_M}.pesq:PESQ_NB_METRIC"),
        MetricEntry("stoi", STOI.description, (STOI,), ("standard", "core", "quick", "all"), f"{_M}.stoi:STOI"),
        MetricEntry("estoi", ESTOI.description, (ESTOI,), ("standard", "quick", "all"), f"{_M}.stoi:ESTOI"),
        MetricEntry("sisnr", SISNR.description, (SISNR,), ("standard", "core", "quick", "all"), f"{_M}.sisnr:SISNR"),
        MetricEntry("mel", MEL.description, (MEL,), ("standard", "quick", "all"), f"{_M}.spectral:LOG_MEL_DISTANCE"),
        MetricEntry("mrstft", MRSTFT.description, (MRSTFT,), ("standard", "quick", "all"), f"{_M}.spectral:MRSTFT_DISTANCE"),
        MetricEntry("dnsmos", "DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS of the degraded signal alone (no reference)",
                    (DNSMOS_SIG, DNSMOS_BAK, DNSMOS_OVRL, DNSMOS_P808), ("all",), f"{_M}.dnsmos:dnsmos_metrics", "DNSMOS",
                    warm_up=f"{_M}.dnsmos:warm_up"),
        MetricEntry("warpq", "WARP-Q distance for generative speech codecs (lower is better)", (WARPQ,), ("all",),
                    f"{_M}.warpq:WARPQ_METRIC", warm_up=f"{_M}.warpq:warm_up"),
    )
}

FACTS: dict[str, MetricFacts] = {facts.name: facts for entry in ENTRIES.values() for facts in entry.results}

# The names kept from before the registry held the facts; same values as ever.
METRIC_DESCRIPTIONS: dict[str, str] = {name: entry.description for name, entry in ENTRIES.items()}
METRIC_NAMES: tuple[str, ...] = tuple(ENTRIES)


def preset(name: str) -> tuple[str, ...]:
    """The metric names of preset ``name``, in registry order.

    Raises:
        ValueError: an unknown preset; the message lists the presets.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown metric preset {name!r}; choose one of {', '.join(PRESETS)}")
    return tuple(entry.name for entry in ENTRIES.values() if name in entry.presets)


DEFAULT_METRICS: tuple[str, ...] = preset("standard")


def check_metric_name(name: str) -> None:
    """``ValueError`` naming the allowed metrics (and the likely one) for an unknown name."""
    if name not in ENTRIES:
        close = difflib.get_close_matches(name, [*METRIC_NAMES, *FACTS], n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        if name in FACTS:
            hint = f" {name} is one of the results of {_requested_as(name)}; ask for that."
        raise ValueError(f"unknown metric {name!r}.{hint} Choose from: {', '.join(METRIC_NAMES)}.")


def _requested_as(result_name: str) -> str:
    return next(entry.name for entry in ENTRIES.values() if any(f.name == result_name for f in entry.results))


def expand_presets(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` with blanks dropped and each preset (``standard``, ``all``...) replaced by its
    metrics, each name once, in the order given; the names themselves are not checked."""
    expanded: dict[str, None] = {}
    for name in (name.strip() for name in names if name.strip()):
        expanded.update(dict.fromkeys(preset(name) if name in PRESETS else (name,)))
    return tuple(expanded)


def expand_metric_names(names: Iterable[str]) -> tuple[str, ...]:
    """:func:`expand_presets`, then every name checked; for a ``--metrics`` option that takes
    metric names and presets.

    Raises:
        ValueError: a name that is neither a metric nor a preset (the message lists both), or
            no name at all.
    """
    expanded = expand_presets(names)
    for name in expanded:
        try:
            check_metric_name(name)
        except ValueError as error:
            raise ValueError(f"{error} Or a preset: {', '.join(PRESETS)}.") from None
    if not expanded:
        raise ValueError("no metrics requested; name at least one")
    return expanded


def resolve_metric(name: str, reference_rate_hz: int, visqol_protocols: tuple[str, ...]) -> list[Metric]:
    """The metric variants ``name`` stands for on a reference sampled at ``reference_rate_hz``
    (``visqol`` gives one per protocol, ``pesq`` the variant the rate allows, ``dnsmos`` its
    four scores)."""
    check_metric_name(name)
    return ENTRIES[name].metrics(Resolution(reference_rate_hz, tuple(visqol_protocols)))


def warm_up_metrics(names: Iterable[str], visqol_protocols: tuple[str, ...]) -> None:
    """Load the models and compile the kernels of these metrics in this process (a pool
    worker does so as it starts, so its first pair does not wait).

    A metric that cannot warm up (a package missing) is left alone: each pair then reports
    its :class:`MetricError`, and the other metrics still run.
    """
    from codecbench.evaluation.metrics.result import MetricError

    for name in names:
        entry = ENTRIES[name]
        if entry.warm_up:
            try:
                _load(entry.warm_up)(Resolution(16_000, tuple(visqol_protocols)))
            except MetricError:
                pass


def results_of(name: str) -> tuple[str, ...]:
    """The result names a metric name can yield (``pesq`` -> ``pesq_wb``, ``pesq_nb``); an
    unknown name stands for itself (a metric stored by another version)."""
    entry = ENTRIES.get(name)
    return tuple(facts.name for facts in entry.results) if entry else (name,)


def metric_facts(result_name: str) -> MetricFacts | None:
    """The facts of a result name (``pesq_wb``, ``dnsmos_sig``), or ``None`` for a name this
    version does not know (a score stored by another version)."""
    return FACTS.get(result_name)


def metric_label(result_name: str, protocol: str | None = None) -> str:
    """The display label of a result (``PESQ-WB``, ``ViSQOL (speech)``); the name itself for an
    unknown one. ``protocol`` is shown where it changes the numbers (ViSQOL)."""
    facts = FACTS.get(result_name)
    if facts is None:
        return result_name
    return f"{facts.label} ({protocol})" if protocol and facts.protocol_in_label else facts.label


def lower_is_better(result_name: str) -> bool:
    """Whether a smaller value of this result is better (distances); ``False`` for quality
    scores and for names this version does not know."""
    facts = FACTS.get(result_name)
    return facts is not None and facts.lower_is_better


def needs_waveform_coherence(metric_name: str) -> bool:
    """Whether the metric a result names (``sisnr``, ``pesq_wb``, ``visqol``) compares waveforms
    sample by sample, and so does not apply to a codec that makes its own phase."""
    facts = FACTS.get(metric_name)
    return facts is not None and facts.needs.waveform_coherence


def metric_help_text(default: Iterable[str] | None = None) -> str:
    """The ``--metrics`` help: every metric name and every preset (and the default, if given),
    from this registry."""
    presets = "; ".join(f"{name}: {','.join(preset(name))}" for name in PRESETS)
    text = f"Comma-separated metrics from {', '.join(METRIC_NAMES)}, or presets ({presets})."
    return text if default is None else f"{text}  [default: {','.join(default)}]"


def describe_metrics() -> str:
    """A table of every result name with its label, unit, direction, range and needs (for the
    docs, and for Python users asking what a stored name means)."""
    lines = []
    for entry in ENTRIES.values():
        lines.append(f"{entry.name}: {entry.description}" + (f"  [presets: {', '.join(entry.presets)}]" if entry.presets else ""))
        for facts in entry.results:
            low, high = (f"{bound:g}" if bound is not None else side
                         for bound, side in zip(facts.value_range, ("-inf", "inf"), strict=True))
            unit = f" {facts.unit}" if facts.unit else ""
            lines.append(f"  {facts.name:<12} {facts.label}{unit}, {facts.direction}, range [{low}, {high}]; "
                         f"{facts.needs.describe()}")
    return "\n".join(lines)
