"""The Listen page's codec pickers: ready codecs grouped by family, the rest in one folded section.

A neural codec whose weights are not downloaded cannot run; there are many of them, each with
its own download hint, and listed in full they pushed Compare far down the page. They sit in
one collapsed section that names the ``codecbench download`` command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import gradio as gr

from codecbench.app.settings import AppSettings
from codecbench.codecs import codec_spec, readiness, registry_entries
from codecbench.codecs.condition import Condition
from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS

DEFAULT_CONDITIONS = ("opus@6", "opus@12")
FAMILY_TITLES = {"classical": "Classical codecs", "anchor": "MUSHRA anchors (low-pass)", "neural": "Neural codecs"}
# Conditions a shared address may preselect at most (a link is typed by strangers).
MAX_SHARED_CONDITIONS = 32
SAFE_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,40}")


@dataclass(frozen=True)
class PickerSet:
    """Every codec's picker, in the order their ticks become conditions.

    ``choices[i]`` are the condition values picker ``i`` offers (empty for a codec that
    cannot run).
    """

    components: tuple[gr.CheckboxGroup, ...]
    choices: tuple[tuple[str, ...], ...]


def build_pickers(settings: AppSettings) -> PickerSet:
    """Lay out the pickers in the current Blocks context."""
    built = [_condition_picker(entry, settings) for entry in registry_entries()]
    families = list(FAMILY_TITLES) + sorted({family for family, _, _ in built} - set(FAMILY_TITLES))
    ordered: list[gr.CheckboxGroup] = []
    for family in families:
        members = [picker for picker_family, picker, ok in built if ok and picker_family == family]
        if members:
            with gr.Group(elem_classes=["listen-family"], elem_id=f"listen-family-{family}"):
                gr.Markdown(f"**{FAMILY_TITLES.get(family, family)}**", elem_classes=["listen-family-title"])
                for picker in members:
                    ordered.append(picker.render())
    ready_count = len(ordered)
    unready = [picker for _, picker, ok in built if not ok]
    if unready:
        with gr.Accordion(f"Not ready: {len(unready)} codecs need their weights", open=False,
                          elem_id="listen-unready"):
            gr.Markdown("Get a codec's weights with `codecbench download NAME` (or pass `--model-dir DIR`), "
                        "then restart the app. Each codec below says what it needs.")
            for picker in unready:
                ordered.append(picker.render())
    return PickerSet(
        tuple(ordered),
        tuple(tuple(value for _, value in p.choices) if i < ready_count else () for i, p in enumerate(ordered)),
    )


def preselect(pickers: PickerSet, conditions_text: str | None, protocol: str | None) -> list:
    """The picker values (and protocol) a shared address asks for; others keep their defaults.

    Unknown or unavailable conditions are left out with a warning rather than failing the page.
    """
    if not conditions_text and not protocol:
        return [gr.skip()] * (len(pickers.components) + 1)
    updates: list = [gr.skip()] * len(pickers.components)
    if conditions_text:
        # Each condition once: a link repeating one would otherwise tick it that many times, and
        # Compare would run it that many times.
        wanted = list(dict.fromkeys(_canonical(text) for text in conditions_text.split(",")[:MAX_SHARED_CONDITIONS]))
        offered = {value: index for index, values in enumerate(pickers.choices) for value in values}
        picked: list[list[str]] = [[] for _ in pickers.components]
        for value in wanted:
            if value in offered:
                picked[offered[value]].append(value)
        missing = [value for value in wanted if value not in offered]
        if missing:
            gr.Warning(f"The link asks for conditions this server cannot run: {_echo(missing)}")
        updates = [gr.update(value=values) for values in picked]
    if protocol in VISQOL_PROTOCOLS:
        updates.append(gr.update(value=protocol))
    else:
        updates.append(gr.skip() if not protocol else gr.update(value=DEFAULT_VISQOL_PROTOCOL))
    return updates


def _echo(values: list[str]) -> str:
    """Names from an address, safe to show: a link is written by a stranger, and a toast renders
    HTML, so only plain condition names are repeated."""
    plain = [value for value in values if SAFE_NAME.fullmatch(value)]
    others = len(values) - len(plain)
    unreadable = f"{others} unreadable name(s)" if others else ""
    return " and ".join(part for part in (", ".join(plain)[:200], unreadable) if part)


def _canonical(text: str) -> str:
    """``opus@6.0`` and ``opus@6`` name the same condition; anything unparsable stays as typed."""
    try:
        return str(Condition.parse(text))
    except ValueError:
        return text.strip()[:40]


def _condition_picker(entry, settings: AppSettings) -> tuple[str, gr.CheckboxGroup, bool]:
    """One codec's operating points (not yet placed), its family, and whether it can run.

    A codec that cannot run is shown disabled, saying why and what to do.
    """
    options = settings.load_options(entry.name)
    state = readiness(entry.name, options)
    spec = entry.spec
    if state.ready:
        try:
            spec = codec_spec(entry.name, options)
        except ValueError as error:
            state = replace(state, ready=False, reason=str(error))
    choices = [(point.label, str(Condition(entry.name, point.nominal_kbps))) for point in spec.operating_points]
    picker = gr.CheckboxGroup(
        choices=choices,
        value=[value for _, value in choices if value in DEFAULT_CONDITIONS] if state.ready else [],
        label=f"{entry.name}: {spec.description}",
        info=None if state.ready else state.describe(),
        interactive=state.ready,
        elem_id=f"picker-{entry.name}",
        elem_classes=["condition-picker"] + ([] if state.ready else ["condition-picker-unavailable"]),
        render=False,
    )
    return spec.family, picker, state.ready
