"""The Listen page: upload or record speech and hear it through several codecs side by side.

Layout and events only; the work is done by :mod:`codecbench.comparison`. Pressing Compare
runs two events one after the other: the first transcodes each condition, the second scores
the reconstructions in a worker process. Both write the comparison's record into its run
folder (:mod:`codecbench.comparison_record`).

Everything below the status line is drawn in the browser by ``static/listen_player.js``, which
polls the run's record over :mod:`codecbench.app.listen_api`: one lockstep player (the original
and every reconstruction decoded into one audio context), the aligned spectrograms, one card
per condition, and the scores as they arrive. Gradio only tells it the run id. (An earlier
version rendered the cards with ``gr.render`` and polled scores with a ``gr.Timer`` made inside
the render: every new outcome re-rendered, the browser still fired the tick of the removed
timer, and Gradio answered ``KeyError`` in ``get_fn``, shown as a false error toast.)
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import gradio as gr

from codecbench.app import AppSettings
from codecbench.app.listen_pickers import PickerSet, build_pickers, preselect
from codecbench.app.voice_conversion_box import build_voice_conversion_box
from codecbench.audio import AudioError, AudioLimits, load_audio
from codecbench.comparison import (
    Condition,
    ConditionOutcome,
    OriginalView,
    ReconstructionScorer,
    compare,
    new_run_dir,
    show_original,
)
from codecbench.comparison_record import ComparisonInfo, write_manifest, write_scores
from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS


@dataclass(frozen=True, eq=False)
class ListenView:
    """One comparison as the events see it; kept per browser session in a ``gr.State``."""

    info: ComparisonInfo
    original: OriginalView
    conditions: tuple[Condition, ...]
    outcomes: tuple[ConditionOutcome, ...] = ()

    @property
    def run_dir(self) -> Path:
        return self.original.audio_path.parent

    @property
    def pending(self) -> tuple[Condition, ...]:
        return self.conditions[len(self.outcomes):]

    def write(self) -> None:
        """Write the manifest the browser's player polls."""
        write_manifest(self.run_dir, self.info, self.original, [str(c) for c in self.conditions], self.outcomes,
                       done=not self.pending)


def build_listen_page(settings: AppSettings, scorer: ReconstructionScorer | None = None) -> None:
    """Lay out the Listen page inside the current Blocks context.

    ``scorer`` scores the reconstructions; whoever owns the server should pass one and close it
    on shutdown. Without one the page starts its own.
    """
    if scorer is None:
        scorer = ReconstructionScorer(workers=settings.scoring_workers)
    scorer.start()
    with gr.Row(elem_id="listen-controls"):
        with gr.Column(scale=2, min_width=300):
            audio_input = gr.Audio(
                sources=["upload", "microphone"],
                type="filepath",
                label="Speech clip (upload or record)",
                elem_id="listen-input",
            )
            protocol_input = gr.Dropdown(
                choices=[(f"{name}: {protocol.description}", name) for name, protocol in VISQOL_PROTOCOLS.items()],
                value=DEFAULT_VISQOL_PROTOCOL,
                label="ViSQOL protocol for the scores",
                elem_id="listen-visqol-protocol",
            )
            run_button = gr.Button("Compare", variant="primary", elem_id="listen-run")
            # Filled by the player's script from the run's record, so that "Done" means drawn.
            gr.HTML('<div id="listen-status" class="listen-status" aria-live="polite"></div>',
                    elem_id="listen-status-host")
        with gr.Column(scale=3, min_width=300, elem_id="listen-codecs"):
            pickers = build_pickers(settings)
    run_marker = gr.HTML("", elem_id="listen-run-marker")
    gr.HTML("", html_template='<div class="listen-board"></div>', js_on_load=_player_script(),
            elem_id="listen-board-host")
    view_state = gr.State(None)

    offered = frozenset(value for values in pickers.choices for value in values)

    def run_comparison(audio_path: str | None, visqol_protocol: str, *selections: list[str]) -> Iterator[tuple]:
        yield from _run_comparison(settings, audio_path, visqol_protocol, selections, offered)

    def score_reconstructions(view: ListenView | None) -> None:
        _score_reconstructions(scorer, view)

    run_button.click(
        run_comparison,
        inputs=[audio_input, protocol_input, *pickers.components],
        outputs=[run_marker, view_state],
        show_progress="minimal",
    ).success(score_reconstructions, inputs=[view_state], outputs=None, show_progress="hidden")
    _preselect_from_address(pickers, protocol_input)

    build_voice_conversion_box(settings)


def _run_comparison(
    settings: AppSettings, audio_path: str | None, visqol_protocol: str, selections: tuple[list[str], ...],
    offered: frozenset[str] | None = None,
) -> Iterator[tuple[str, ListenView]]:
    """Transcode the clip under every chosen condition, writing the record after each one.

    The selections come from the browser: a forged event may repeat a condition any number of
    times (Gradio checks each value against its picker's choices, not repeats) or tick a codec
    that cannot run. Each condition runs once, and only those ``offered`` (the ready pickers').
    """
    if not audio_path:
        raise gr.Error("Upload or record a speech clip first.", print_exception=False)
    values = list(dict.fromkeys(value for group in selections for value in (group or []) if isinstance(value, str)))
    if offered is not None:
        values = [value for value in values if value in offered]
    try:
        conditions = tuple(Condition.parse(value) for value in values)
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None
    if not conditions:
        raise gr.Error("Pick at least one codec operating point.", print_exception=False)
    if visqol_protocol not in VISQOL_PROTOCOLS:
        raise gr.Error(f"Unknown ViSQOL protocol; choose one of {', '.join(VISQOL_PROTOCOLS)}.",
                       print_exception=False)
    try:
        audio = load_audio(audio_path, limits=AudioLimits(max_duration_s=settings.max_duration_s))
    except AudioError as error:
        raise gr.Error(str(error).replace(audio_path, "The uploaded clip"), print_exception=False) from None
    for warning in audio.warnings:
        gr.Warning(warning.replace(audio_path, "The uploaded clip"))

    run_dir = new_run_dir(settings.work_dir)
    info = ComparisonInfo(run_dir.name, audio_path.rsplit("/", 1)[-1], audio.duration_s, audio.sample_rate_hz,
                          visqol_protocol)
    view = ListenView(info, show_original(audio, run_dir), conditions)
    view.write()
    marker = run_marker_html(info.run_id)
    yield marker, view
    outcomes = compare(audio, conditions, run_dir, scale=view.original.scale, load_options=settings.load_options)
    for outcome in outcomes:
        view = replace(view, outcomes=(*view.outcomes, outcome))
        view.write()
        yield gr.skip(), view


def _score_reconstructions(scorer: ReconstructionScorer, view: ListenView | None) -> None:
    """Score every reconstruction, writing the scores as each condition's arrive."""
    if view is None:
        return
    scores = []
    try:
        for entry in scorer.score(view.original.audio_path, view.outcomes, view.info.visqol_protocol):
            scores.append(entry)
            write_scores(view.run_dir, scores, done=False)
    except Exception as error:  # e.g. the scoring process cannot start: the page says so in the tables
        write_scores(view.run_dir, scores, done=True, error=f"{type(error).__name__}: {error}")
        return
    write_scores(view.run_dir, scores, done=True)


def run_marker_html(run_id: str) -> str:
    """The element that tells the page's script which comparison to show."""
    return f'<div class="listen-run" data-run="{html.escape(run_id, quote=True)}"></div>'


def _preselect_from_address(pickers: PickerSet, protocol_input: gr.Dropdown) -> None:
    """``/?c=opus@6,codec2@3.2&protocol=speech`` ticks those conditions when the page opens."""
    root = gr.context.Context.root_block
    if root is None:
        return

    def on_load(request: gr.Request) -> list:
        params = request.query_params if request is not None else {}
        return preselect(pickers, params.get("c"), params.get("protocol"))

    root.load(on_load, inputs=None, outputs=[*pickers.components, protocol_input], show_progress="hidden")


def _player_script() -> str:
    """The player's script and style, run once when the page loads (``js_on_load``)."""
    static = resources.files("codecbench.app") / "static"
    css = (static / "listen_player.css").read_text(encoding="utf-8")
    script = (static / "listen_player.js").read_text(encoding="utf-8")
    return f"{script}\nwindow.codecbenchListenStart(element, {json.dumps(css)});"
