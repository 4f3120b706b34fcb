"""The metric registry: every name has its facts, every result maps back, presets hold, and
reading it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codecbench.evaluation.metrics import registry
from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.registry import (
    DEFAULT_METRICS,
    ENTRIES,
    FACTS,
    METRIC_DESCRIPTIONS,
    METRIC_NAMES,
    PRESETS,
    Resolution,
    check_metric_name,
    describe_metrics,
    expand_metric_names,
    lower_is_better,
    metric_help_text,
    metric_label,
    needs_waveform_coherence,
    preset,
    resolve_metric,
    results_of,
)
from codecbench.evaluation.metrics.visqol import VISQOL_PROTOCOLS

ALL_PROTOCOLS = tuple(VISQOL_PROTOCOLS)


def test_every_metric_name_has_a_label_direction_unit_range_and_needs():
    assert METRIC_NAMES == tuple(ENTRIES) and set(METRIC_DESCRIPTIONS) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        entry = ENTRIES[name]
        assert entry.description and entry.display_label and entry.results
        for facts in entry.results:
            assert facts.label and facts.description and facts.unit in ("MOS", "dB", "")
            assert isinstance(facts.lower_is_better, bool)
            low, high = facts.value_range
            assert low is None or high is None or low < high
            assert facts.needs.alignment in ("own", "codecbench", "none")
            assert facts.needs.reference or facts.needs.alignment == "none"


@pytest.mark.parametrize("rate_hz", [8_000, 16_000, 48_000])
def test_every_variant_a_name_resolves_to_maps_back_to_its_facts(rate_hz):
    """What scoring produces (a result's name) is always a name the registry has facts for,
    listed among the results of the name that was asked for, and the computing module agrees
    with the facts on whether it runs on codecbench's aligned signal."""
    for name in METRIC_NAMES:
        for metric in resolve_metric(name, rate_hz, ALL_PROTOCOLS):
            assert isinstance(metric, Metric)
            assert metric.name in results_of(name)
            facts = FACTS[metric.name]
            assert metric.uses_alignment == (facts.needs.alignment == "codecbench"), metric.name
            assert metric.protocol and metric.packages


def test_every_warm_up_hook_names_a_function():
    hooks = {name: entry.warm_up for name, entry in ENTRIES.items() if entry.warm_up}
    assert set(hooks) == {"visqol", "dnsmos", "warpq"}
    for reference in hooks.values():
        assert callable(registry._load(reference))


def test_the_names_results_carry_give_labels_and_directions():
    assert metric_label("pesq_wb") == "PESQ-WB" and metric_label("sisnr") == "SI-SNR"
    assert metric_label("visqol", "speech") == "ViSQOL (speech)" and metric_label("visqol") == "ViSQOL"
    assert metric_label("dnsmos_ovrl", "p835-sig_bak_ovr-16k-nonpersonalized") == "DNSMOS OVRL"
    assert metric_label("from_another_version") == "from_another_version"
    assert {name for name in FACTS if lower_is_better(name)} == {"mel", "mrstft", "warpq"}
    assert not lower_is_better("pesq_nb") and not lower_is_better("unknown_metric")
    assert results_of("pesq") == ("pesq_wb", "pesq_nb")
    assert results_of("dnsmos") == ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
    assert results_of("stored_elsewhere") == ("stored_elsewhere",)
    assert needs_waveform_coherence("sisnr") and not needs_waveform_coherence("warpq")
    assert not needs_waveform_coherence("dnsmos_sig") and not needs_waveform_coherence("unknown")


def test_presets_hold_known_names_in_registry_order_and_default_is_unchanged():
    assert DEFAULT_METRICS == ("visqol", "pesq", "stoi", "estoi", "sisnr", "mel", "mrstft")
    assert preset("core") == ("visqol", "pesq", "stoi", "sisnr")
    assert "visqol" not in preset("quick") and set(preset("quick")) < set(DEFAULT_METRICS)
    assert {"dnsmos", "warpq"} <= set(preset("all")) and not {"pesq_wb", "pesq_nb"} & set(preset("all"))
    for name in PRESETS:
        names = preset(name)
        assert names and list(names) == [n for n in METRIC_NAMES if n in names]
    assert not set(PRESETS) & set(METRIC_NAMES) & set(FACTS)  # a preset never shadows a metric
    with pytest.raises(ValueError, match="unknown metric preset 'fast'; choose one of standard, core, quick, all"):
        preset("fast")


def test_metric_lists_expand_presets_and_name_what_is_allowed():
    assert expand_metric_names(["core", "dnsmos", "pesq"]) == ("visqol", "pesq", "stoi", "sisnr", "dnsmos")
    with pytest.raises(ValueError, match=r"unknown metric 'dnsmo'\. Did you mean dnsmos\?.*Or a preset: standard"):
        expand_metric_names(["dnsmo"])
    with pytest.raises(ValueError, match="dnsmos_sig is one of the results of dnsmos; ask for that"):
        check_metric_name("dnsmos_sig")
    with pytest.raises(ValueError, match="no metrics requested"):
        expand_metric_names([])


def test_help_texts_and_choices_come_from_the_registry():
    help_text = metric_help_text()
    for name in [*METRIC_NAMES, *PRESETS]:
        assert name in help_text
    table = describe_metrics()
    for facts in FACTS.values():
        assert f"{facts.name} " in table and facts.label in table


def test_an_entry_with_several_results_needs_a_label_and_known_presets():
    with pytest.raises(ValueError, match="needs its own label"):
        registry.MetricEntry("x", "x", (registry.PESQ_WB, registry.PESQ_NB), (), "m:a")
    with pytest.raises(ValueError, match="unknown presets"):
        registry.MetricEntry("x", "x", (registry.MEL,), ("fastest",), "m:a")


def test_resolution_gives_pesq_by_rate_and_visqol_per_protocol():
    assert [m.name for m in resolve_metric("pesq", 8_000, ())] == ["pesq_nb"]
    assert [m.name for m in resolve_metric("pesq", 16_000, ())] == ["pesq_wb"]
    assert [m.protocol for m in ENTRIES["visqol"].metrics(Resolution(16_000, ("speech", "audio")))] == ["speech", "audio"]


def test_reading_the_registry_imports_no_heavy_package():
    probe = (
        "import sys\n"
        "from codecbench.evaluation.metrics import metric_help_text, DEFAULT_METRICS\n"
        "from codecbench.evaluation.metrics.registry import describe_metrics, lower_is_better\n"
        "metric_help_text(); describe_metrics(); lower_is_better('mel')\n"
        "heavy = ['torch', 'pandas', 'onnxruntime', 'librosa', 'speechmos', 'warpq', 'numpy']\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_the_registry_names_exactly_the_visqol_protocols_that_are_defined():
    from codecbench.evaluation.metrics.registry import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOL_NAMES
    from codecbench.evaluation.metrics.visqol import VISQOL_PROTOCOLS

    assert tuple(VISQOL_PROTOCOLS) == VISQOL_PROTOCOL_NAMES
    assert DEFAULT_VISQOL_PROTOCOL in VISQOL_PROTOCOLS
