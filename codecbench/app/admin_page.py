"""The Admin page of MUSHRA tests (``/admin/?test=ID``): progress, screening, results, stimuli, export.

Every event handler checks the admin password itself, so calling the page's API directly is
refused just like the page is; without a configured password every request is refused. The
work is done by :mod:`codecbench.listening_test`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from codecbench.app.admin_auth import AdminGate
from codecbench.listening_test.design import (
    TestNotFoundError,
    get_test,
    list_tests,
    participant_count,
    participant_link,
    set_test_status,
    stimulus_checks,
)
from codecbench.listening_test.ratings import load_ratings, progress_of
from codecbench.listening_test.report import (
    compute_results,
    export_ratings_csv,
    participants_table,
    results_figures,
    screen,
    summary_display,
)
from codecbench.listening_test.screening import SCREENING_RULES, screening_report, screening_rule
from codecbench.storage import Database

REFRESH_S = 10.0


def build_admin_page(database: Database, gate: AdminGate, public_url: str) -> gr.Blocks:
    """The Admin page as its own Blocks (mounted at ``/admin``); ``gate`` checks the password."""
    with gr.Blocks(title="codecbench MUSHRA admin") as page:
        gr.Markdown("## MUSHRA admin")
        with gr.Row(equal_height=True):
            password = gr.Textbox(label="Admin password", type="password", elem_id="admin-password", scale=2)
            test_id = gr.Textbox(label="Test id", elem_id="admin-test", scale=1)
            screening = gr.Radio(list(SCREENING_RULES), value="bs1534", label="Screening", scale=2)
            headphones = gr.Checkbox(label="Exclude who failed the headphone check", value=False,
                                     elem_id="admin-headphones", scale=1)
            open_button = gr.Button("Show", variant="primary", elem_id="admin-show", scale=1)
        status = gr.Markdown(elem_id="admin-status")
        tests = gr.Dataframe(label="Tests", interactive=False, visible=False, elem_id="admin-tests")
        # Hidden until a test is shown: empty tables would show placeholder headers ("1 2 3").
        with gr.Column(visible=False, elem_id="admin-details") as details, gr.Tabs():
            with gr.Tab("Progress"):
                progress = gr.Markdown(elem_id="admin-progress")
                per_item = gr.Dataframe(label="Submitted trials per item", interactive=False)
                with gr.Row():
                    close_button = gr.Button("Close the test to new participants")
                    reopen_button = gr.Button("Reopen the test")
            with gr.Tab("Screening"):
                exclusions = gr.Dataframe(label="Whom each rule excludes or flags", interactive=False, elem_id="admin-exclusions")
                screening_notes = gr.Markdown()
                suspicious = gr.Dataframe(label="Suspicious sessions: flagged for you to check, not excluded",
                                          interactive=False, elem_id="admin-suspicious")
                participants = gr.Dataframe(label="Headphone check and questionnaire, per assessor",
                                            interactive=False, elem_id="admin-participants")
            with gr.Tab("Results"):
                conditions = gr.Dataframe(label="Per condition", interactive=False, elem_id="admin-conditions")
                with gr.Row():
                    box_plot = gr.Plot(label="Ratings")
                    interval_plot = gr.Plot(label="Means and 95 % CIs")
                comparisons = gr.Dataframe(label="Paired comparisons (Wilcoxon signed-rank, Holm)", interactive=False)
                items = gr.Dataframe(label="Per item and condition", interactive=False, elem_id="admin-items")
            with gr.Tab("Stimuli"):
                stimuli = gr.Dataframe(label="Stimulus checks", interactive=False)
            with gr.Tab("Export"):
                export_button = gr.Button("Export ratings as CSV (with the screening chosen above)", elem_id="admin-export")
                export_file = gr.File(label="ratings.csv", interactive=False, elem_id="admin-export-file")
        timer = gr.Timer(REFRESH_S, active=False)

        panels = [status, tests, progress, per_item, exclusions, screening_notes, suspicious, participants, conditions,
                  box_plot, interval_plot, comparisons, items, stimuli, details, timer]

        def authorize(given: str | None, request: gr.Request) -> None:
            gate.authorize(given, request)

        def show(given: str | None, test_text: str | None, rule_name: str, require_headphones: bool,
                 request: gr.Request) -> tuple:
            authorize(given, request)
            with database.session(read_only=True) as session:
                listing = _test_listing(session, public_url)
                if not (test_text or "").strip():
                    return _empty(panels, "Pick a test id from the list.", listing)
                try:
                    test_number = _test_number(test_text)
                    test = get_test(session, test_number)
                except ValueError:
                    return _empty(panels, f"**{test_text!r} is not a test id.**", listing)
                except TestNotFoundError as error:
                    return _empty(panels, f"**{error}**", listing)
                results = compute_results(session, test.id, screening_rule(rule_name),
                                          require_headphones=bool(require_headphones))
                state = progress_of(session, test.id)
                checks = pd.DataFrame(stimulus_checks(session, test.id))
            box, intervals = results_figures(results) if len(results.ratings) else (None, None)
            return (
                f"Test **{test.id}: {test.name}** ({test.status}). Participant link: "
                f"`{participant_link(public_url, test)}`",
                gr.update(value=listing, visible=True),
                _progress_text(state),
                pd.DataFrame({"item": list(state.ratings_per_item), "submitted trials": list(state.ratings_per_item.values())}),
                _exclusions(results.all_ratings),
                results.screening.summary(),
                results.suspicious,
                participants_table(results.all_ratings),
                summary_display(results.conditions).round(2),
                box,
                intervals,
                results.comparisons.round(4),
                summary_display(results.items).round(2),
                _stimulus_table(checks),
                gr.Column(visible=True),
                gr.Timer(active=True),
            )

        def set_status(given: str | None, test_text: str | None, status_value: str, request: gr.Request) -> str:
            authorize(given, request)
            try:
                with database.session() as session:
                    test = set_test_status(session, _test_number(test_text), status_value)
            except (ValueError, TestNotFoundError) as error:
                raise gr.Error(str(error), print_exception=False) from None
            return f"Test **{test.id}: {test.name}** is now {test.status}."

        def close_test(given: str | None, test_text: str | None, request: gr.Request) -> str:
            return set_status(given, test_text, "closed", request)

        def reopen_test(given: str | None, test_text: str | None, request: gr.Request) -> str:
            return set_status(given, test_text, "open", request)

        def export(given: str | None, test_text: str | None, rule_name: str, require_headphones: bool,
                   request: gr.Request) -> str:
            authorize(given, request)
            try:
                with database.session(read_only=True) as session:
                    ratings = load_ratings(session, _test_number(test_text))
            except (ValueError, TestNotFoundError) as error:
                raise gr.Error(str(error), print_exception=False) from None
            kept = screen(screening_rule(rule_name), ratings, require_headphones=bool(require_headphones)).kept(ratings)
            folder = Path(tempfile.mkdtemp(prefix="codecbench-export-"))
            return str(export_ratings_csv(kept, folder / f"mushra-test-{test_text}-{rule_name}.csv"))

        inputs = [password, test_id, screening, headphones]
        open_button.click(show, inputs=inputs, outputs=panels)
        screening.change(show, inputs=inputs, outputs=panels)
        headphones.change(show, inputs=inputs, outputs=panels)
        timer.tick(show, inputs=inputs, outputs=panels, show_progress="hidden")
        close_button.click(close_test, inputs=[password, test_id], outputs=status)
        reopen_button.click(reopen_test, inputs=[password, test_id], outputs=status)
        export_button.click(export, inputs=inputs, outputs=export_file)

        def test_from_link(request: gr.Request) -> str:
            return request.query_params.get("test", "")

        page.load(test_from_link, inputs=None, outputs=test_id)
    return page


def _test_number(text: str | None) -> int:
    """A test id typed on the page. Raises ValueError for anything else (a number too large for
    the database's integers included)."""
    stripped = str(text or "").strip()
    if not stripped.isdigit() or len(stripped) > 18:
        raise ValueError(f"{stripped[:40]!r} is not a test id.")
    return int(stripped)


def _test_listing(session, public_url: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"id": t.id, "name": t.name, "status": t.status, "participants": participant_count(session, t.id),
             "items": len(t.items), "rated conditions": len(t.rated_conditions)}
            for t in list_tests(session)
        ],
        columns=["id", "name", "status", "participants", "items", "rated conditions"],
    )


def _empty(panels: list, message: str, listing: pd.DataFrame) -> tuple:
    """The panels when no test is shown: the message, the list of tests, and the details hidden."""
    cleared = [None] * (len(panels) - 4)
    return (message, gr.update(value=listing, visible=True), *cleared, gr.Column(visible=False), gr.Timer(active=False))


def _progress_text(state) -> str:
    last = state.last_activity.strftime("%Y-%m-%d %H:%M:%S UTC") if state.last_activity else "never"
    return (
        f"**{state.started}** participant(s) started, **{state.completed}** completed; now reading instructions: "
        f"{state.in_instructions}, level check: {state.in_level_check}, rating: {state.rating}. "
        f"Last activity: {last}. (Refreshes every {REFRESH_S:g} s.)"
    )


def _exclusions(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per rule: whom it excludes and why, and whom it keeps but flags (criteria an item guard
    switched off for them, a criterion outside the rule they break)."""
    rows = []
    for result in screening_report(ratings):
        for assessor in result.assessors:
            reasons = result.excluded.get(assessor, ())
            flags = result.flags.get(assessor, ())
            if reasons or flags:
                rows.append({"rule": result.rule, "assessor": assessor,
                             "decision": "excluded" if reasons else "kept, flagged",
                             "reasons": "; ".join(reasons), "flags": "; ".join(flags)})
        if not any(row["rule"] == result.rule for row in rows):
            rows.append({"rule": result.rule, "assessor": f"(all {len(result.assessors)} kept)", "decision": "",
                         "reasons": "", "flags": ""})
    return pd.DataFrame(rows, columns=["rule", "assessor", "decision", "reasons", "flags"])


def _stimulus_table(checks: pd.DataFrame) -> pd.DataFrame:
    if checks.empty:
        return checks
    checks = checks.copy()
    checks["sha256"] = checks["sha256"].str[:16]
    wanted = ["item", "condition", "sha256", "loudness_lufs", "peak_dbfs", "gain_db", "measured_kbps",
              "codec_delay_removed_samples", "delay_removed_samples", "anchor_mask"]
    table = checks[[c for c in wanted if c in checks.columns]]
    if "anchor_mask" in table.columns:
        table = table.assign(anchor_mask=table["anchor_mask"].map(
            lambda m: "" if not isinstance(m, dict) else ("passes" if m["passes"] else "FAILS") + (" (identity)" if m["identity"] else "")))
    return table
