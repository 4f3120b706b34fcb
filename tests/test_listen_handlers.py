"""The Listen page's event handlers called directly: Compare on a real clip with fast codecs,
the scoring step with a stand-in scorer, the shared-address preselection; what they yield
for normal input, for forged input (repeated or unoffered conditions, values of the wrong
type, no comparison yet), and the messages they refuse with. The browser tests keep the flows."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile

from codecbench.app import AppSettings
from codecbench.app.leaderboard_handlers import CellChooser
from codecbench.app.listen_handlers import (
    NO_CLIP_MESSAGE,
    NO_CONDITION_MESSAGE,
    AddressPreselect,
    ListenView,
    chosen_conditions,
    offered_conditions,
    read_clip,
    run_comparison,
    run_marker_html,
    score_reconstructions,
    ticked_conditions,
)
from codecbench.app.listen_page import build_listen_page
from codecbench.app.listen_pickers import PickerSet
from codecbench.comparison_record import read_record
from codecbench.evaluation.metrics import VISQOL_PROTOCOLS, MetricResult, PairScores
from tests.speech_clips import speech_clip

CLIP = speech_clip("zh/zh_aishell1_dev_BAC009S0724W0121.wav", seconds=2.0, seed=23)
SKIPPED = {"__type__": "update"}  # gr.skip()
OFFERED = frozenset({"opus@6", "opus@12", "codec2@3.2"})


@pytest.fixture
def settings(tmp_path) -> AppSettings:
    return AppSettings(work_dir=tmp_path / "work", max_duration_s=30.0)


def compared(settings: AppSettings, *selections: list, offered=OFFERED, protocol: str = "speech",
             clip: Path = CLIP) -> list[tuple]:
    return list(run_comparison(settings, offered, str(clip), protocol, *selections))


def refusal(settings: AppSettings, audio_path: object, protocol: object, *selections: object,
            offered=OFFERED) -> str:
    """The message of the ``gr.Error`` Compare refuses with (before it writes anything)."""
    with pytest.raises(gr.Error) as raised:
        next(run_comparison(settings, offered, audio_path, protocol, *selections))
    assert raised.value.print_exception is False  # a person's mistake: no traceback in the log
    assert not settings.work_dir.exists() or not any(settings.work_dir.iterdir())
    return raised.value.message


# -- which conditions run ----------------------------------------------------------------------


def test_the_ticked_conditions_run_once_each_in_order_and_only_offered_ones():
    assert ticked_conditions((["opus@12", "opus@6"], [], ["codec2@3.2"])) == ["opus@12", "opus@6", "codec2@3.2"]
    assert ticked_conditions((["opus@6"] * 100, ["opus@6", "opus@12"]), OFFERED) == ["opus@6", "opus@12"]
    assert ticked_conditions((["opus@6", "dac_16khz@6"],), OFFERED) == ["opus@6"]  # a codec that cannot run
    assert ticked_conditions((["opus@6"],), frozenset()) == []


@pytest.mark.parametrize("selections", [(None,), ("opus@6",), (7,), ({"opus@6": True},), ([7, None, ["opus@6"]],),
                                        ([{"a": 1}],)])
def test_selections_that_are_not_lists_of_names_tick_nothing(selections):
    assert ticked_conditions(selections) == [] and ticked_conditions(selections, OFFERED) == []


def test_the_chosen_conditions_are_parsed_and_none_is_refused():
    from codecbench.codecs.condition import Condition

    assert chosen_conditions((["opus@6", "opus@6"], ["codec2@3.2"]), OFFERED) == (Condition("opus", 6.0),
                                                                                   Condition("codec2", 3.2))
    with pytest.raises(gr.Error) as raised:
        chosen_conditions(([], None), OFFERED)
    assert raised.value.message == NO_CONDITION_MESSAGE


def test_reading_the_clip_applies_the_duration_bound(tmp_path):
    assert read_clip(AppSettings(work_dir=tmp_path), str(CLIP)).duration_s > 1.0
    with pytest.raises(gr.Error) as raised:
        read_clip(AppSettings(work_dir=tmp_path, max_duration_s=1.0), str(CLIP))
    assert raised.value.message.startswith("The uploaded clip: is ") and "over the limit of 1 s" in raised.value.message


def test_the_offered_conditions_are_the_ready_pickers_choices():
    pickers = PickerSet((), (("opus@6", "opus@12"), (), ("codec2@3.2",)))
    assert offered_conditions(pickers) == OFFERED


# -- Compare -------------------------------------------------------------------------------------


def test_compare_yields_the_run_marker_first_then_the_view_after_each_condition(settings):
    steps = compared(settings, ["opus@6", "opus@6"], [], ["codec2@3.2"])
    assert len(steps) == 3
    marker, first = steps[0]
    run_dir = first.run_dir
    assert run_dir.parent == settings.work_dir and marker == run_marker_html(run_dir.name)
    assert isinstance(first, ListenView) and first.outcomes == () and [str(c) for c in first.pending] == [
        "opus@6", "codec2@3.2"]
    assert first.info.source_name == CLIP.name and first.info.visqol_protocol == "speech"
    assert [marker for marker, _ in steps[1:]] == [SKIPPED, SKIPPED]
    last = steps[-1][1]
    assert last.pending == () and [str(outcome.condition) for outcome in last.outcomes] == ["opus@6", "codec2@3.2"]
    assert all(outcome.error is None and outcome.audio_path.is_file() for outcome in last.outcomes)
    record = read_record(run_dir)
    assert record["done"] is True and record["conditions"] == ["opus@6", "codec2@3.2"]
    assert [outcome["condition"] for outcome in record["outcomes"]] == ["opus@6", "codec2@3.2"]


def test_a_token_codec_gets_its_token_figures_in_the_outcome_and_the_record_and_a_classical_codec_none(
    settings, tiny_models
):
    steps = compared(settings, ["encodec_24khz@1.5", "opus@6", "lowpass_3500"], offered=None)
    encodec, opus, anchor = steps[-1][1].outcomes
    assert encodec.error is None and encodec.tokens_note is None
    tokens = encodec.tokens
    assert tokens["tokens"] == 2 * tokens["streams"][0]["frames"] and tokens["frame_rate_hz"] == 75
    assert tokens["entropy_coded_kbps"] > 0 and tokens["measured_kbps"] == pytest.approx(1.5, abs=0.01)
    assert 0 < tokens["mean_utilisation"] <= 1 and tokens["warnings"]  # 2 s: far fewer tokens than entries
    for classical in (opus, anchor):  # no figures, least of all zeros: a note saying why
        assert classical.error is None and classical.tokens is None
        assert classical.tokens_note.startswith("sends no tokens")
    record = read_record(steps[-1][1].run_dir)
    by_condition = {outcome["condition"]: outcome for outcome in record["outcomes"]}
    assert by_condition["encodec_24khz@1.5"]["tokens"] == json.loads(json.dumps(tokens))
    assert by_condition["opus@6"]["tokens"] is None and by_condition["lowpass_3500"]["tokens"] is None
    assert by_condition["opus@6"]["tokens_note"] == opus.tokens_note


def test_the_record_is_written_before_the_first_condition_runs(settings):
    steps = run_comparison(settings, OFFERED, str(CLIP), "audio", ["opus@12"])
    _, view = next(steps)
    record = read_record(view.run_dir)
    assert record["done"] is False and record["outcomes"] == [] and record["visqol_protocol"] == "audio"
    steps.close()


@pytest.mark.parametrize("audio_path", [None, "", 5, ["clip.wav"]])
def test_compare_without_a_clip_asks_for_one(settings, audio_path):
    assert refusal(settings, audio_path, "speech", ["opus@6"]) == NO_CLIP_MESSAGE


@pytest.mark.parametrize(("selections", "offered"), [
    ((), OFFERED), (([],), OFFERED), (([], None), OFFERED), ((["dac_16khz@6"],), OFFERED),
    ((["opus@6"] * 3,), frozenset()),
])
def test_compare_with_no_offered_condition_ticked_asks_for_one(settings, selections, offered):
    assert refusal(settings, str(CLIP), "speech", *selections, offered=offered) == NO_CONDITION_MESSAGE


def test_an_unparsable_condition_is_refused_naming_it(settings):
    """Only when nothing filters the conditions (the page always passes what it offers)."""
    message = refusal(settings, str(CLIP), "speech", ["opus@fast"], offered=None)
    assert message == "condition 'opus@fast': 'fast' is not a bitrate in kbps"
    assert refusal(settings, str(CLIP), "speech", ["@6"], offered=None).endswith("write CODEC@KBPS, e.g. opus@6")


@pytest.mark.parametrize("protocol", ["nonsense", "", None, ["speech"], 3])
def test_an_unknown_visqol_protocol_is_refused_listing_the_known_ones(settings, protocol):
    message = refusal(settings, str(CLIP), protocol, ["opus@6"])
    assert message == f"Unknown ViSQOL protocol; choose one of {', '.join(VISQOL_PROTOCOLS)}."


def test_a_clip_that_cannot_be_read_is_refused_without_naming_its_server_path(settings, tmp_path):
    garbage = tmp_path / "uploads" / "clip.wav"
    garbage.parent.mkdir()
    garbage.write_bytes(b"RIFF but not really")
    message = refusal(settings, str(garbage), "speech", ["opus@6"])
    assert "The uploaded clip" in message and str(garbage.parent) not in message
    missing = refusal(settings, str(tmp_path / "gone.wav"), "speech", ["opus@6"])
    assert "The uploaded clip" in missing and str(tmp_path) not in missing


def test_a_clip_longer_than_the_bound_is_refused(tmp_path):
    settings = AppSettings(work_dir=tmp_path / "work", max_duration_s=1.0)
    message = refusal(settings, str(CLIP), "speech", ["opus@6"])
    assert message.startswith("The uploaded clip: is ") and "over the limit of 1 s" in message


def test_a_condition_that_fails_is_an_outcome_with_its_error_not_a_refusal(settings):
    """One broken condition must not sink the others (only when nothing filters the conditions:
    the page offers only codecs that can run)."""
    steps = compared(settings, ["nosuchcodec@6", "opus@6"], offered=None)
    broken, opus = steps[-1][1].outcomes
    assert broken.error and broken.audio_path is None and "nosuchcodec" in broken.error
    assert opus.error is None and read_record(steps[-1][1].run_dir)["done"] is True


def test_the_run_marker_escapes_the_run_id():
    assert run_marker_html("run-abc") == '<div class="listen-run" data-run="run-abc"></div>'
    assert '"><script>' not in run_marker_html('"><script>alert(1)</script>')


# -- scoring -------------------------------------------------------------------------------------


class StandInScorer:
    """A :class:`codecbench.comparison.ReconstructionScorer` stand-in: fixed scores, then
    optionally a failure."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.calls: list[tuple] = []

    def score(self, original_path, outcomes, visqol_protocol):
        self.calls.append((original_path, tuple(outcomes), visqol_protocol))
        for number, outcome in enumerate(outcomes):
            if number == self.fail_after:
                raise RuntimeError("the scoring process could not start")
            yield PairScores(str(outcome.condition), (MetricResult("sisnr", 1.5 + number, None, "aligned", "test"),))


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> ListenView:
    settings = AppSettings(work_dir=tmp_path_factory.mktemp("listen-handlers") / "work")
    return list(run_comparison(settings, OFFERED, str(CLIP), "speech", ["opus@6", "codec2@3.2"]))[-1][1]


def scores_record(view: ListenView) -> dict:
    return json.loads((view.run_dir / "scores.json").read_text(encoding="utf-8"))


def test_scoring_writes_each_conditions_scores_and_then_done(comparison):
    scorer = StandInScorer()
    score_reconstructions(scorer, comparison)
    assert scorer.calls == [(comparison.original.audio_path, comparison.outcomes, "speech")]
    record = scores_record(comparison)
    assert record["done"] is True and record["error"] is None
    assert list(record["scores"]) == ["opus@6", "codec2@3.2"]
    assert read_record(comparison.run_dir)["scores"]["scores"]["opus@6"][0]["label"] == "SI-SNR"


def test_a_scoring_failure_is_written_for_the_page_with_the_scores_so_far(comparison):
    score_reconstructions(StandInScorer(fail_after=1), comparison)
    record = scores_record(comparison)
    assert record["done"] is True and record["error"] == "RuntimeError: the scoring process could not start"
    assert list(record["scores"]) == ["opus@6"]


@pytest.mark.parametrize("view", [None, "run-abc", {"run": 1}])
def test_scoring_without_a_comparison_does_nothing(view):
    scorer = StandInScorer()
    assert score_reconstructions(scorer, view) is None and scorer.calls == []


# -- the shared address --------------------------------------------------------------------------


class StandInRequest:
    def __init__(self, **query_params: str) -> None:
        self.query_params = query_params


def pickers() -> PickerSet:
    opus = gr.CheckboxGroup(choices=[("6 kbps", "opus@6"), ("12 kbps", "opus@12")], render=False)
    codec2 = gr.CheckboxGroup(choices=[("3.2 kbps", "codec2@3.2")], render=False)
    return PickerSet((opus, codec2), (("opus@6", "opus@12"), ("codec2@3.2",)))


def test_a_shared_address_ticks_its_conditions_and_chooses_its_protocol():
    updates = AddressPreselect(pickers())(StandInRequest(c="opus@12,codec2@3.2,opus@12.0", protocol="audio"))
    assert [update["value"] for update in updates] == [["opus@12"], ["codec2@3.2"], "audio"]


@pytest.mark.parametrize("request_", [None, StandInRequest(), StandInRequest(other="x")])
def test_an_address_without_conditions_changes_nothing(request_):
    assert AddressPreselect(pickers())(request_) == [SKIPPED] * 3


def test_an_address_naming_unknown_conditions_or_protocol_ticks_none_and_keeps_the_default_protocol():
    with pytest.warns(UserWarning, match="cannot run: nonsense@9 and 1 unreadable name"):
        updates = AddressPreselect(pickers())(StandInRequest(c="nonsense@9,<b>", protocol="<script>"))
    assert [update["value"] for update in updates] == [[], [], "speech"]


# -- what Gradio sees of the handlers ------------------------------------------------------------


def test_gradio_gives_the_callable_handlers_the_request_event_data_and_progress():
    """Why they are callable objects and not partials: Gradio reads the handler's own signature
    and type hints to pass ``gr.Request``, ``gr.SelectData`` and ``gr.Progress``."""
    from gradio.helpers import special_args

    request = StandInRequest()
    inputs, _, _, _ = special_args(AddressPreselect(pickers()), [], request=request)
    assert inputs == [request]
    _, progress_index, event_data_index, _ = special_args(CellChooser(None, None, None, None))
    assert (event_data_index, progress_index) == (1, 2)


class IdleScorer:
    def start(self) -> None:
        pass


def test_the_page_registers_its_events_in_the_order_and_with_the_names_of_its_api(tmp_path):
    """``fn_index`` is the order of registration; clients (and the attack tests) use both."""
    settings = AppSettings(work_dir=tmp_path / "work")
    with gr.Blocks() as demo:
        build_listen_page(settings, IdleScorer())
    names = [fn.api_name for fn in demo.fns.values()]
    assert names[:3] == ["run_comparison", "score_reconstructions", "on_load"]
    compare, score, load = list(demo.fns.values())[:3]
    assert compare.fn.func is run_comparison and compare.fn.args[0] is settings
    assert isinstance(score.fn.args[0], IdleScorer) and score.fn.func is score_reconstructions
    assert isinstance(load.fn, AddressPreselect) and load.targets[0][1] == "load"
    assert [component.elem_id for component in compare.inputs[:2]] == ["listen-input", "listen-visqol-protocol"]
    assert compare.fn.args[1] == offered_conditions(load.fn.pickers)
    assert score.trigger_only_on_success and score.trigger_after == 0


def test_a_stereo_clip_warns_but_compares(settings, tmp_path):
    stereo = tmp_path / "stereo.wav"
    samples, rate = soundfile.read(CLIP, dtype="float32")
    soundfile.write(stereo, np.stack([samples, 0.5 * samples], axis=1), rate)
    with pytest.warns(UserWarning, match="^The uploaded clip: had 2 channels") as caught:
        steps = compared(settings, ["opus@6"], clip=stereo)
    assert steps[-1][1].outcomes[0].error is None
    assert not any(str(tmp_path) in str(warning.message) for warning in caught)  # never the server path
