"""The MUSHRA participant page, reached by a test's opaque link (``/mushra/?test=TOKEN``).

Layout and events only: the page asks :mod:`codecbench.listening_test.flow` for the session's
view and shows its stage. The player (``static/mushra_player.js``, in a ``gr.HTML``) plays the
stimuli by token and sends play events and ratings to the participant API
(:mod:`codecbench.app.mushra_api`); after a trial is stored it fires the component's ``submit``
event, and the page shows the next view.
"""

from __future__ import annotations

import json
from importlib import resources

import gradio as gr

from codecbench.app.mushra_api import MUSHRA_API_PATH, browser_key
from codecbench.listening_test import flow, participant_info
from codecbench.storage import Database

PAGE_TITLE = "Listening test"
LEVEL_HINT = "**Please tick the box to confirm that you wear headphones and that the level is comfortable.**"


def player_assets() -> tuple[str, str]:
    """The player's ``<head>`` HTML (its script, inline) and its CSS."""
    static = resources.files("codecbench.app") / "static"
    script = (static / "mushra_player.js").read_text(encoding="utf-8")
    return f"<script>{script}</script>", (static / "mushra_player.css").read_text(encoding="utf-8")


def build_participant_page(database: Database) -> gr.Blocks:
    """The participant page as its own Blocks (mounted at ``/mushra``), sharing nothing with other pages."""
    with gr.Blocks(title=PAGE_TITLE) as page:
        session_token = gr.State(None)
        title = gr.Markdown(f"## {PAGE_TITLE}", elem_id="mushra-title")
        message = gr.Markdown(visible=False, elem_id="mushra-message")
        with gr.Column(visible=False, elem_id="mushra-instructions") as intro:
            instructions = gr.Markdown()
            with gr.Column(visible=False, elem_id="mushra-consent") as consent_box:
                consent_text = gr.Markdown()
                consent_ok = gr.Checkbox(label="I have read this and agree to take part.", elem_id="mushra-consent-ok")
            with gr.Column(visible=False, elem_id="mushra-questionnaire") as questionnaire:
                gr.Markdown("A few questions about you (optional):")
                answer_inputs = [
                    gr.Dropdown(choices=list(choices), value=None, label=participant_info.LABELS[question],
                                elem_id=f"mushra-q-{question}")
                    for question, choices in participant_info.QUESTIONS.items()
                ]
            start_button = gr.Button("Start", variant="primary", elem_id="mushra-start")
        player = gr.HTML(
            value=None,
            html_template='<div class="mushra-player-root"></div>',
            js_on_load=(
                "window.CodecbenchMushra.mount(element, props, trigger, watch, "
                f"window.location.origin + {json.dumps(MUSHRA_API_PATH)});"
            ),
            apply_default_css=False,
            elem_id="mushra-player",
        )
        with gr.Column(visible=False, elem_id="mushra-level") as level:
            level_ok = gr.Checkbox(label="I am wearing headphones and the level is comfortable.", elem_id="mushra-level-ok")
            level_hint = gr.Markdown("", elem_id="mushra-level-hint")
            level_button = gr.Button("Continue", variant="primary", elem_id="mushra-level-continue")
        completion = gr.Markdown(visible=False, elem_id="mushra-complete")
        outputs = [session_token, title, message, intro, instructions, player, level, completion, consent_box,
                   consent_text, questionnaire]

        def show(view: flow.SessionView | None, error: str | None = None) -> tuple:
            if view is None:
                return (None, f"## {PAGE_TITLE}", gr.update(value=error, visible=True), gr.update(visible=False),
                        gr.update(), None, gr.update(visible=False), gr.update(visible=False),
                        gr.update(), gr.update(), gr.update())
            return (
                view.session_token,
                f"## {view.test_name}",
                gr.update(value="", visible=False),
                gr.update(visible=view.stage == "instructions"),
                view.instructions,
                {key: value for key, value in view.to_dict().items() if key != "instructions"},
                gr.update(visible=view.stage == "level_check"),
                gr.update(value=_completion_text(view), visible=view.stage == "complete"),
                gr.update(visible=bool(view.consent)),
                view.consent or "",
                gr.update(visible=view.questionnaire),
            )

        def run(action) -> tuple:
            try:
                with database.session() as session:
                    return show(action(session))
            except flow.FlowError as error:
                return show(None, f"**{error.message}**")

        def open_link(request: gr.Request) -> tuple:
            params = dict(request.query_params)
            user_agent = request.headers.get("user-agent", "")
            if not params.get("test"):
                return show(None, "**This page needs the test link you were given (it ends in `?test=...`).**")
            key = browser_key(request)
            address = request.client.host if request.client else ""
            return run(lambda s: flow.start_session(s, params["test"], params, user_agent=user_agent,
                                                    browser_key=key, address=address))

        def start(token: str | None, consent: bool, age_range: str | None, hearing_problems: str | None,
                  device: str | None, request: gr.Request) -> tuple:
            answers = (age_range, hearing_problems, device)  # in the order of participant_info.QUESTIONS

            def begin(session):
                key = browser_key(request)
                participant_info.record(session, token or "", consent_given=bool(consent),
                                        answers=dict(zip(participant_info.QUESTIONS, answers)), browser_key=key)
                return flow.advance(session, token or "", "instructions", key)
            try:
                with database.session() as session:
                    return show(begin(session))
            except flow.FlowError as error:  # e.g. consent not given: stay on the page and say so
                return (*(gr.update() for _ in outputs[:2]), gr.update(value=f"**{error.message}**", visible=True),
                        *(gr.update() for _ in outputs[3:]))

        def level_checked(token: str | None, confirmed: bool, request: gr.Request) -> tuple:
            if not confirmed:  # shown next to the box (a toast would stay over the next trial)
                return (*(gr.update() for _ in outputs), LEVEL_HINT)
            return (*run(lambda s: flow.advance(s, token or "", "level_check", browser_key(request))), "")

        def refresh(token: str | None, request: gr.Request) -> tuple:
            return run(lambda s: flow.session_view(s, token or "", browser_key(request)))

        fast = {"outputs": outputs, "concurrency_limit": None, "show_progress": "hidden", "api_visibility": "private"}
        page.load(open_link, **fast)
        start_button.click(start, inputs=[session_token, consent_ok, *answer_inputs], **fast)
        level_button.click(level_checked, inputs=[session_token, level_ok], **{**fast, "outputs": [*outputs, level_hint]})
        # The hint goes as soon as the box is ticked, in the browser (no round trip to wait for).
        level_ok.change(None, inputs=level_ok, outputs=level_hint, js=f"(ok) => ok ? '' : {json.dumps(LEVEL_HINT)}")
        # A refusal for want of consent is stale once the box is ticked: it goes at once, too.
        consent_ok.change(None, inputs=[consent_ok, message], outputs=message, js="(ok, text) => ok ? '' : text")
        player.submit(refresh, inputs=session_token, **fast)
    return page


def _completion_text(view: flow.SessionView) -> str:
    if view.stage != "complete":
        return ""
    text = f"### Thank you! You have finished the test.\n\nYour completion code is **`{view.completion_code}`**."
    if view.redirect_url:
        text += f"\n\nYou will be taken back in a few seconds, or [continue now]({view.redirect_url})."
    return text
