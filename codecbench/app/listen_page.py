"""The Listen page: upload or record speech and hear it through several codecs side by side.

Layout and events only; the work is done by :mod:`codecbench.comparison`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import gradio as gr

from codecbench.app import AppSettings
from codecbench.audio import AudioError, AudioLimits, load_audio
from codecbench.codecs import codec_spec, readiness, registry_entries
from codecbench.comparison import Condition, ConditionOutcome, OriginalView, compare, new_run_dir, show_original

CARDS_PER_ROW = 2
DEFAULT_CONDITIONS = ("opus@6", "opus@12")


@dataclass(frozen=True, eq=False)
class ListenView:
    """What the results area shows; kept per browser session in a ``gr.State``.

    Gradio re-renders when the state's hash changes; an immutable object hashed by identity
    makes every update (a new object) count as a change.
    """

    original: OriginalView
    source_name: str
    duration_s: float
    sample_rate_hz: int
    outcomes: tuple[ConditionOutcome, ...] = ()
    pending: tuple[Condition, ...] = ()


def build_listen_page(settings: AppSettings) -> None:
    """Lay out the Listen page inside the current Blocks context."""
    with gr.Row():
        with gr.Column(scale=2):
            audio_input = gr.Audio(
                sources=["upload", "microphone"],
                type="filepath",
                label="Speech clip (upload or record)",
                elem_id="listen-input",
            )
        with gr.Column(scale=3):
            pickers = [_condition_picker(entry, settings) for entry in registry_entries()]
            run_button = gr.Button("Compare", variant="primary", elem_id="listen-run")
    status = gr.Markdown(elem_id="listen-status")
    view_state = gr.State(None)

    @gr.render(inputs=view_state)
    def show_results(view: ListenView | None) -> None:
        if view is None:
            return
        _original_card(view)
        cards = [*view.outcomes, *view.pending]
        for start in range(0, len(cards), CARDS_PER_ROW):
            with gr.Row(equal_height=False):
                for item in cards[start : start + CARDS_PER_ROW]:
                    with gr.Column(min_width=320, elem_classes=["condition-card"]):
                        if isinstance(item, Condition):
                            gr.Markdown(f"### {item.title}\nwaiting…", elem_classes=["condition-pending"])
                        else:
                            _outcome_card(item)

    def run_comparison(audio_path: str | None, *selections: list[str]) -> Iterator[tuple[str, ListenView]]:
        if not audio_path:
            raise gr.Error("Upload or record a speech clip first.")
        conditions = [Condition.parse(value) for group in selections for value in (group or [])]
        if not conditions:
            raise gr.Error("Pick at least one codec operating point.")
        try:
            audio = load_audio(audio_path, limits=AudioLimits(max_duration_s=settings.max_duration_s))
        except AudioError as error:
            raise gr.Error(str(error).replace(audio_path, "The uploaded clip")) from None
        for warning in audio.warnings:
            gr.Warning(warning.replace(audio_path, "The uploaded clip"))

        run_dir = new_run_dir(settings.work_dir)
        view = ListenView(
            original=show_original(audio, run_dir),
            source_name=audio_path.rsplit("/", 1)[-1],
            duration_s=audio.duration_s,
            sample_rate_hz=audio.sample_rate_hz,
            pending=tuple(conditions),
        )
        yield _status(view), view
        outcomes = compare(audio, conditions, run_dir, scale=view.original.scale, load_options=settings.load_options)
        for outcome in outcomes:
            view = replace(view, outcomes=(*view.outcomes, outcome), pending=view.pending[1:])
            yield _status(view), view

    run_button.click(
        run_comparison,
        inputs=[audio_input, *pickers],
        outputs=[status, view_state],
        show_progress="minimal",
    )


def _condition_picker(entry, settings: AppSettings) -> gr.CheckboxGroup:
    """One codec's operating points; a codec that cannot run is shown disabled, saying why and what to do."""
    options = settings.load_options(entry.name)
    state = readiness(entry.name, options)
    spec = entry.spec
    if state.ready:
        try:
            spec = codec_spec(entry.name, options)
        except ValueError as error:
            state = replace(state, ready=False, reason=str(error))
    choices = [(point.label, str(Condition(entry.name, point.nominal_kbps))) for point in spec.operating_points]
    return gr.CheckboxGroup(
        choices=choices,
        value=[value for _, value in choices if value in DEFAULT_CONDITIONS] if state.ready else [],
        label=f"{entry.name}: {spec.description}",
        info=None if state.ready else state.describe(),
        interactive=state.ready,
        elem_id=f"picker-{entry.name}",
        elem_classes=["condition-picker"] + ([] if state.ready else ["condition-picker-unavailable"]),
    )


def _status(view: ListenView) -> str:
    done, total = len(view.outcomes), len(view.outcomes) + len(view.pending)
    failed = sum(not outcome.ok for outcome in view.outcomes)
    if view.pending:
        return f"Running {view.pending[0].title} ({done + 1} of {total})…"
    summary = f"Done: {total} condition(s)"
    return summary + (f", {failed} failed (see below)." if failed else ".")


def _original_card(view: ListenView) -> None:
    with gr.Column(elem_classes=["original-card"]):
        gr.Markdown(
            f"### Original\n{view.source_name} · {view.duration_s:.2f} s · "
            f"{view.sample_rate_hz / 1000:g} kHz (mono)"
        )
        gr.Audio(value=str(view.original.audio_path), type="filepath", label="original", interactive=False)
        gr.Image(
            value=str(view.original.spectrogram_path), type="filepath", show_label=False,
            interactive=False, buttons=["download", "fullscreen"],
        )


def _outcome_card(outcome: ConditionOutcome) -> None:
    title = outcome.condition.title
    if not outcome.ok:
        gr.Markdown(f"### {title}\n**Failed:** {outcome.error}", elem_classes=["condition-error"])
        return
    summary = outcome.summary
    if summary["measured_kbps"] is None:
        rate = "no bitstream (anchor)"
    else:
        rate = f"**{summary['measured_kbps']:.2f} kbps** measured (nominal {summary['nominal_kbps']:g})"
    gr.Markdown(
        f"### {title}\n{rate} · processed in {summary['processing_s']:.2f} s "
        f"({summary['realtime_factor']:.3f}× real time)",
        elem_classes=["condition-result"],
    )
    gr.Audio(value=str(outcome.audio_path), type="filepath", label=title, interactive=False, buttons=["download"])
    gr.Image(
        value=str(outcome.spectrogram_path), type="filepath", show_label=False,
        interactive=False, buttons=["download", "fullscreen"],
    )
