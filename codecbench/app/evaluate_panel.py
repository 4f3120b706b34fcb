"""The Leaderboard page's "Run an evaluation" panel: ``codecbench evaluate`` from the browser.

It reads its fields with the command line's request parser
(:func:`codecbench.evaluation.request_parsing.parse_evaluation_request`: the same values are
accepted, with the same messages) and runs the same runner, with Gradio's progress bar (units
done of the total, rate, time left), in the app's process and its scoring workers, or on the
Ray cluster the server was started with (``codecbench app --ray-address``; the page never
shows its address), chosen in the panel. Because a run reads
files on the server and can keep it busy for hours, it needs the admin password; long runs
over whole test sets belong on the command line anyway.
"""

from __future__ import annotations

import gradio as gr

from codecbench.app.admin_auth import AdminGate
from codecbench.app.settings import AppSettings
from codecbench.codecs import CodecNotReadyError
from codecbench.evaluation.datasets import TestSetError
from codecbench.evaluation.executor import Executor, LocalExecutor
from codecbench.evaluation.metrics import DEFAULT_VISQOL_PROTOCOL, METRIC_NAMES, VISQOL_PROTOCOLS
from codecbench.evaluation.progress import CallbackProgress
from codecbench.evaluation.request_parsing import default_evaluation_metrics, parse_evaluation_request, parse_limit
from codecbench.evaluation.results import stored_testset_specs
from codecbench.evaluation.runner import EvaluationPlan, plan_evaluation, run_evaluation
from codecbench.evaluation.store import check_evaluation_dialect
from codecbench.storage import Database

__all__ = ["build_evaluate_panel", "parse_limit", "prepared_executor", "run_places"]

ON_THIS_SERVER = "this server"
ON_THE_CLUSTER = "the Ray cluster"


def run_places(settings: AppSettings) -> list[str]:
    """Where the panel can run an evaluation: this server, and the Ray cluster if the server has one
    (named without its address, which strangers reading the page need not know)."""
    return [ON_THIS_SERVER] + ([ON_THE_CLUSTER] if settings.ray_address else [])


def prepared_executor(settings: AppSettings, place: str | None, plan: EvaluationPlan) -> Executor:
    """The executor for ``place`` (one of :func:`run_places`), checked and ready to run ``plan``.

    Raises:
        gr.Error: ``place`` is not offered, or the cluster cannot run the plan (the message says why).
    """
    if place in (None, ON_THIS_SERVER):
        return LocalExecutor(settings.scoring_workers)
    if place not in run_places(settings):
        raise gr.Error(f"cannot run on {place!r}: choose one of {', '.join(run_places(settings))}", print_exception=False)
    from codecbench.evaluation.ray_executor import ClusterError, RayExecutor

    executor = RayExecutor(settings.ray_address)
    try:
        executor.connect()
        executor.prepare(plan.testsets, plan.conditions, plan.request.scoring)
    except ClusterError as error:
        executor.close()
        raise gr.Error(str(error), print_exception=False) from None
    except BaseException:
        executor.close()  # leave no actors nor a Ray connection behind in the server
        raise
    return executor


def build_evaluate_panel(settings: AppSettings, database: Database, gate: AdminGate):
    """Lay out the panel; returns the run button's event, for the page to chain a refresh to.

    The test sets' roots are server paths: they are filled in only for a caller who gives the
    admin password, never sent with the page itself."""
    with gr.Accordion("Run an evaluation", open=False, elem_id="evaluate-panel"):
        with gr.Row():
            testsets = gr.Textbox(
                label="Test sets (one per line: NAME=ROOT, NAME=wavscp:PATH or NAME=folder:PATH)",
                placeholder="librispeech-test-clean=/data/LibriSpeech", lines=3, elem_id="evaluate-testsets",
            )
            codecs = gr.Textbox(label="Codecs (NAME@KBPS,KBPS, one per line or separated by spaces)",
                                value="opus@6,12\nlowpass_3500\nlowpass_7000", lines=3, elem_id="evaluate-codecs")
        with gr.Row():
            metrics = gr.CheckboxGroup(list(METRIC_NAMES), value=list(default_evaluation_metrics()), label="Metrics",
                                       elem_id="evaluate-metrics")
            protocols = gr.CheckboxGroup(list(VISQOL_PROTOCOLS), value=[DEFAULT_VISQOL_PROTOCOL],
                                         label="ViSQOL protocols", elem_id="evaluate-protocols")
        with gr.Row(equal_height=True):
            limit = gr.Textbox(label="At most this many utterances per test set (empty: all)", value="",
                               placeholder="all", elem_id="evaluate-limit")
            seed = gr.Number(label="Seed of the sample", value=0, precision=0, elem_id="evaluate-seed")
            password = gr.Textbox(label="Admin password", type="password", elem_id="evaluate-password")
            place = gr.Radio(run_places(settings), value=ON_THIS_SERVER, label="Run on", elem_id="evaluate-place",
                             visible=settings.ray_address is not None)
            fill_button = gr.Button("Fill in the stored test sets", elem_id="evaluate-fill")
            run_button = gr.Button("Run", variant="primary", elem_id="evaluate-run")
        summary = gr.Markdown(elem_id="evaluate-summary")

    def fill(given_password: str | None, request: gr.Request) -> str:
        gate.authorize(given_password, request, "The stored test sets are shown with the admin password.")
        return _stored_specs(database)

    def run(testset_text: str, codec_text: str, metric_names: list[str], protocol_names: list[str],
            limit_value: str | float | None, seed_value: float | None, given_password: str | None,
            place_value: str | None, request: gr.Request, progress=gr.Progress()) -> str:
        gate.authorize(given_password, request, "Running an evaluation needs the admin password.")
        try:
            request = parse_evaluation_request(
                testsets=testset_text.splitlines(), codecs=codec_text.split(), metrics=metric_names or (),
                visqol_protocols=protocol_names or (), limit=limit_value, seed=seed_value,
                model_dirs=settings.model_dirs, device=settings.device, max_duration_s=settings.max_duration_s,
            )
            check_evaluation_dialect(database.dialect)
            plan = plan_evaluation(request)
        except (TestSetError, CodecNotReadyError, ValueError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        reporter = CallbackProgress(lambda done, total, text: progress((done, total), desc=text, unit="units"))
        with prepared_executor(settings, place_value, plan) as executor:
            result = run_evaluation(database, plan, executor, reporter)
        return f"```\n{result.describe()}\n```"

    fill_button.click(fill, inputs=[password], outputs=[testsets])
    return run_button.click(
        run, inputs=[testsets, codecs, metrics, protocols, limit, seed, password, place], outputs=[summary],
        concurrency_limit=1, concurrency_id="evaluate",
    )


def _stored_specs(database: Database) -> str:
    with database.session(read_only=True) as session:
        return "\n".join(str(spec) for spec in stored_testset_specs(session))
