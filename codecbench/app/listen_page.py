"""The Listen page: upload or record speech and hear it through several codecs side by side.

Layout and events only; the work is done by :mod:`codecbench.comparison`. Pressing Compare
runs two events one after the other: the first transcodes and shows each condition's player
as soon as it is ready, the second scores the reconstructions in a worker process.

Scores live in a state of their own, not in the view the cards are rendered from: rendering
the cards again reloads their players (a playing one jumps back to the start), so the score
tables are filled in place instead, by a timer that each rendering of the cards starts and
that stops once its tables are full. (A change listener on the scores could fire before the
cards it fills have reached the browser; polling cannot miss.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import gradio as gr

from codecbench.app import AppSettings
from codecbench.audio import AudioError, AudioLimits, load_audio
from codecbench.codecs import codec_spec, readiness, registry_entries
from codecbench.comparison import (
    Condition,
    ConditionOutcome,
    OriginalView,
    ReconstructionScorer,
    compare,
    new_run_dir,
    show_original,
)
from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS, MetricResult, PairScores

CARDS_PER_ROW = 2
SCORE_POLL_S = 0.3
# Stop polling for scores after this long: ViSQOL on a 10-minute clip takes well under a minute.
MAX_SCORING_WAIT_S = 600.0
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
    visqol_protocol: str = DEFAULT_VISQOL_PROTOCOL

    @property
    def run_id(self) -> str:
        """Tells this comparison apart from an earlier one (its output folder's name)."""
        return self.original.audio_path.parent.name


@dataclass(frozen=True, eq=False)
class ScoreBoard:
    """The scores of one comparison's reconstructions so far; kept per session in a ``gr.State``.

    ``error`` says why scoring failed as a whole (the scoring process could not start, say);
    a metric's own failure is in its result.
    """

    run_id: str = ""
    scores: tuple[PairScores, ...] = ()
    error: str | None = None

    def results_for(self, run_id: str, condition: Condition) -> tuple[MetricResult, ...] | None:
        if run_id != self.run_id:
            return None
        return next((entry.results for entry in self.scores if entry.pair_id == str(condition)), None)


def build_listen_page(settings: AppSettings, scorer: ReconstructionScorer | None = None) -> None:
    """Lay out the Listen page inside the current Blocks context.

    ``scorer`` scores the reconstructions; whoever owns the server should pass one and close it
    on shutdown. Without one the page starts its own.
    """
    if scorer is None:
        scorer = ReconstructionScorer(workers=settings.scoring_workers)
    scorer.start()
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
            protocol_input = gr.Dropdown(
                choices=[(f"{name}: {protocol.description}", name) for name, protocol in VISQOL_PROTOCOLS.items()],
                value=DEFAULT_VISQOL_PROTOCOL,
                label="ViSQOL protocol for the scores",
                elem_id="listen-visqol-protocol",
            )
            run_button = gr.Button("Compare", variant="primary", elem_id="listen-run")
    status = gr.Markdown(elem_id="listen-status")
    view_state = gr.State(None)
    scores_state = gr.State(ScoreBoard())

    @gr.render(inputs=view_state)
    def show_results(view: ListenView | None) -> None:
        if view is None:
            return
        _original_card(view)
        cards = [*view.outcomes, *view.pending]
        score_tables: list[tuple[Condition, gr.Markdown]] = []
        for start in range(0, len(cards), CARDS_PER_ROW):
            with gr.Row(equal_height=False):
                for item in cards[start : start + CARDS_PER_ROW]:
                    with gr.Column(min_width=320, elem_classes=["condition-card"]):
                        if isinstance(item, Condition):
                            gr.Markdown(f"### {item.title}\nwaiting…", elem_classes=["condition-pending"])
                        elif (table := _outcome_card(item)) is not None:
                            score_tables.append((item.condition, table))
        if score_tables:
            ticker = gr.Timer(SCORE_POLL_S)
            deadline = time.monotonic() + MAX_SCORING_WAIT_S

            def fill_score_tables(board: ScoreBoard) -> list:
                results = [board.results_for(view.run_id, condition) for condition, _ in score_tables]
                failed = board.error if board.run_id == view.run_id else None
                if failed is None and time.monotonic() > deadline:
                    failed = "the scores did not arrive in time"
                tables = [_score_markdown(r) if r or not failed else f"Scoring failed: {failed}" for r in results]
                done = failed is not None or all(r is not None for r in results)
                return [*tables, gr.Timer(active=not done)]

            ticker.tick(
                fill_score_tables, inputs=scores_state, outputs=[*(table for _, table in score_tables), ticker],
                show_progress="hidden",
            )

    def run_comparison(
        audio_path: str | None, visqol_protocol: str, *selections: list[str]
    ) -> Iterator[tuple[str, ListenView]]:
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
            visqol_protocol=visqol_protocol,
        )
        yield _status(view), view
        outcomes = compare(audio, conditions, run_dir, scale=view.original.scale, load_options=settings.load_options)
        for outcome in outcomes:
            view = replace(view, outcomes=(*view.outcomes, outcome), pending=view.pending[1:])
            yield _status(view), view

    def score_reconstructions(view: ListenView | None) -> Iterator[ScoreBoard]:
        if view is None:
            return
        board = ScoreBoard(view.run_id)
        try:
            for scores in scorer.score(view.original.audio_path, view.outcomes, view.visqol_protocol):
                board = replace(board, scores=(*board.scores, scores))
                yield board
        except Exception as error:  # e.g. the scoring process cannot start: say so in the tables
            yield replace(board, error=f"{type(error).__name__}: {error}")

    run_button.click(
        run_comparison,
        inputs=[audio_input, protocol_input, *pickers],
        outputs=[status, view_state],
        show_progress="minimal",
    ).success(score_reconstructions, inputs=[view_state], outputs=[scores_state], show_progress="hidden")


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


def _outcome_card(outcome: ConditionOutcome) -> gr.Markdown | None:
    """Draw one condition's card; returns the (still empty) score table of a successful one."""
    title = outcome.condition.title
    if not outcome.ok:
        gr.Markdown(f"### {title}\n**Failed:** {outcome.error}", elem_classes=["condition-error"])
        return None
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
    table = gr.Markdown(_score_markdown(None), elem_classes=["condition-scores"])
    gr.Image(
        value=str(outcome.spectrogram_path), type="filepath", show_label=False,
        interactive=False, buttons=["download", "fullscreen"],
    )
    return table


def _score_markdown(results: tuple[MetricResult, ...] | None) -> str:
    """A one-row Markdown table of the scores, with each failure's reason below it."""
    if results is None:
        return "scoring…"
    headers = [_metric_label(result) for result in results]
    cells = [_format_value(result) for result in results]
    table = "| " + " | ".join(headers) + " |\n|" + "---|" * len(results) + "\n| " + " | ".join(cells) + " |"
    notes = [f"- {label}: {result.error}" for label, result in zip(headers, results) if not result.ok]
    return "\n".join([table, *notes])


def _metric_label(result: MetricResult) -> str:
    labels = {"visqol": f"ViSQOL ({result.protocol})", "pesq_wb": "PESQ-WB", "pesq_nb": "PESQ-NB",
              "stoi": "STOI", "sisnr": "SI-SNR"}
    return labels.get(result.metric, result.metric)


def _format_value(result: MetricResult) -> str:
    if result.value is None:
        return "n/a"
    return f"{result.value:.1f} dB" if result.metric == "sisnr" else f"{result.value:.2f}"
