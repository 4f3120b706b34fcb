"""Whether a metric says anything about a codec's output, read from both descriptions.

A vocoder (Codec 2) synthesises its own phase; a metric that compares waveforms sample by
sample (SI-SNR) then measures the phase the codec invented, not the quality of the speech.
The codec's spec says ``waveform_coherent``, the metric's description says
``needs_waveform_coherence``; no page or table keeps a list of names.
"""

from __future__ import annotations

from codecbench.codecs import get_entry
from codecbench.evaluation.metrics.registry import needs_waveform_coherence


def not_applicable_reason(codec: str, metric: str) -> str | None:
    """Why ``metric`` says nothing about ``codec``'s output, or ``None`` when it applies (or
    either is unknown: a codec stored by another version, a metric from elsewhere)."""
    try:
        coherent = get_entry(codec).spec.waveform_coherent
    except ValueError:
        return None
    if coherent or not needs_waveform_coherence(metric):
        return None
    return (f"not applicable: {codec} synthesises its own phase (a vocoder), and this metric compares "
            "waveforms sample by sample")
