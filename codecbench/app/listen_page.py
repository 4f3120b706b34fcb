"""The Listen page: upload or record speech and hear it through several codecs side by side.

Layout and wiring only; the events are handled by :mod:`codecbench.app.listen_handlers` and
the work is done by :mod:`codecbench.comparison`. Pressing Compare
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

import json
from importlib import resources

import gradio as gr

from codecbench.app.bound import bound
from codecbench.app.listen_handlers import AddressPreselect, offered_conditions, run_comparison, score_reconstructions
from codecbench.app.listen_pickers import PickerSet, build_pickers
from codecbench.app.settings import AppSettings
from codecbench.app.voice_conversion_box import build_voice_conversion_box
from codecbench.comparison import ReconstructionScorer
from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS


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
                choices=_protocol_choices(),
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

    # The API names are those of the closures these handlers once were (part of the page's API);
    # the order of registration is the events' fn_index.
    run_button.click(
        bound(run_comparison, settings, offered_conditions(pickers)),
        inputs=[audio_input, protocol_input, *pickers.components],
        outputs=[run_marker, view_state],
        show_progress="minimal",
        api_name="run_comparison",
    ).success(bound(score_reconstructions, scorer), inputs=[view_state], outputs=None, show_progress="hidden",
              api_name="score_reconstructions")
    _preselect_from_address(pickers, protocol_input)

    build_voice_conversion_box(settings)


def _protocol_choices() -> list[tuple[str, str]]:
    """The ViSQOL protocols as (label, value) choices: each named with its description."""
    return [(f"{name}: {protocol.description}", name) for name, protocol in VISQOL_PROTOCOLS.items()]


def _preselect_from_address(pickers: PickerSet, protocol_input: gr.Dropdown) -> None:
    """``/?c=opus@6,codec2@3.2&protocol=speech`` ticks those conditions when the page opens."""
    root = gr.context.Context.root_block
    if root is not None:
        root.load(AddressPreselect(pickers), inputs=None, outputs=[*pickers.components, protocol_input],
                  show_progress="hidden", api_name="on_load")


def _player_script() -> str:
    """The player's script and style, run once when the page loads (``js_on_load``)."""
    static = resources.files("codecbench.app") / "static"
    css = (static / "listen_player.css").read_text(encoding="utf-8")
    script = (static / "listen_player.js").read_text(encoding="utf-8")
    return f"{script}\nwindow.codecbenchListenStart(element, {json.dumps(css)});"
