"""Token statistics: the entropy coder, the counts, the estimators, and what evaluations store."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import delete, func, select, update

from codecbench.audio import Audio
from codecbench.codecs import load_codec, transcode
from codecbench.codecs.base import EncodedAudio, OperatingPoint, TokenPayload
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.leaderboard import Leaderboard
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.evaluation.token_summary import NOT_MEASURED, stored_unit_tokens, token_reports
from codecbench.storage import open_database
from codecbench.storage.evaluation_tables import EvalScoreRow, EvalTokenStreamRow, EvalTokenSummaryRow, EvalUnitRow
from codecbench.tokens.coder import CODER_VERSION, decode_codes, encode_codes
from codecbench.tokens.counts import SparseCounts, StreamCounts, sum_stream_counts
from codecbench.tokens.estimators import conditional_entropy, entropy, top_share
from codecbench.tokens.statistics import NoTokensError, StreamTokens, measure_tokens, token_report
from tests.corpora import clip, make_folder

# ------------------------------------------------------------------------------------ the coder


@pytest.mark.parametrize(("codebook_size", "codebooks", "frames"), [
    (1024, 8, 300), (1024, 1, 1), (2, 3, 50), (1, 2, 7), (16, 4, 0), (4096, 2, 100), (1000, 5, 64),
])
def test_random_codes_come_back_from_the_coder_unchanged(codebook_size, codebooks, frames):
    codes = np.random.default_rng(codebook_size + frames).integers(0, codebook_size, (codebooks, frames))
    coded = encode_codes(codes, codebook_size)
    assert np.array_equal(decode_codes(coded.data, codebooks, frames, codebook_size), codes)
    # An arithmetic coder's output is the model's ideal cost plus at most a few bits.
    assert coded.model_bits - 1 <= coded.num_bits <= coded.model_bits + 4
    assert coded.coded_bits == 8 * len(coded.data) >= coded.num_bits


def test_skewed_and_long_streams_come_back_at_their_entropy():
    rng = np.random.default_rng(7)
    codes = np.minimum(rng.zipf(1.3, size=(3, 40_000)) - 1, 1023)  # a few entries take most tokens
    coded = encode_codes(codes, 1024)
    assert np.array_equal(decode_codes(coded.data, 3, 40_000, 1024), codes)
    order_0 = np.mean([entropy(SparseCounts.of(row)).bits for row in codes])
    assert coded.num_bits / codes.size == pytest.approx(order_0, rel=0.03)


def test_structured_codes_come_back_and_cost_what_their_structure_allows():
    rng = np.random.default_rng(3)
    steps = rng.choice([-1, 0, 1], size=(4, 2000), p=[0.25, 0.5, 0.25])
    walk = np.cumsum(steps, axis=1) % 1024  # each code is its previous frame's +-1: 1.5 bits of news
    coded = encode_codes(walk, 1024)
    assert np.array_equal(decode_codes(coded.data, 4, 2000, 1024), walk)
    order_0 = np.mean([entropy(SparseCounts.of(row)).bits for row in walk])
    assert order_0 > 4.5
    # The previous-frame context is used: 1.5 bits of news plus learning each newly visited context.
    assert coded.num_bits / walk.size < 2.5


def test_codes_a_token_codec_made_come_back_from_the_coder(tiny_models):
    audio = Audio(clip(4, 1.5), 16000)
    for name, kbps in (("encodec_24khz", 6.0), ("facodec", 4.8), ("dac_16khz", 6.0)):
        codec = load_codec(name)
        payload = transcode(codec, audio, codec.spec.operating_point(kbps)).encoded.payload
        size = codec.spec.operating_point(kbps).codebook_size
        coded = encode_codes(payload.codes, size)
        assert np.array_equal(decode_codes(coded.data, *payload.codes.shape, size), payload.codes), name


def test_the_coder_refuses_codes_outside_the_codebook():
    with pytest.raises(ValueError, match="outside 0..15"):
        encode_codes(np.array([[3, 16]]), 16)
    with pytest.raises(ValueError, match="integer array"):
        encode_codes(np.zeros(5, dtype=int), 16)


# ------------------------------------------------------------------------------- the estimators


def test_a_uniform_source_has_log2_k_bits_and_codes_at_that_rate():
    size = 256
    codes = np.random.default_rng(0).integers(0, size, (1, 200_000))
    estimate = entropy(SparseCounts.of(codes[0]))
    assert estimate.bits == pytest.approx(math.log2(size), abs=0.002)
    assert estimate.plug_in_bits < estimate.bits  # the correction adds to the plug-in estimate
    given_previous = conditional_entropy(SparseCounts.of(codes[0, :-1] * size + codes[0, 1:]), size)
    assert given_previous.bits == pytest.approx(math.log2(size), abs=0.05)  # 780 tokens per context
    coded = encode_codes(codes, size)
    assert coded.num_bits / codes.size == pytest.approx(math.log2(size), rel=0.002)


def test_a_constant_stream_has_no_entropy_and_codes_to_almost_nothing():
    codes = np.full((3, 5000), 7)
    counts = StreamCounts.from_codes("codes", codes, 1024)
    for index, book in enumerate(counts.codebooks):
        assert entropy(book.unigram).bits == 0.0
        assert conditional_entropy(book.prev_frame, 1024).bits == 0.0
        if index:
            assert conditional_entropy(book.prev_codebook, 1024).bits == 0.0
        assert top_share(book.unigram, 1024) == 1.0
    assert encode_codes(codes, 1024).num_bits / codes.size < 0.01


def test_the_miller_madow_correction_is_the_stated_term():
    counts = SparseCounts.of(np.array([0, 0, 0, 1]))  # p = 3/4, 1/4
    plug_in = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    estimate = entropy(counts)
    assert estimate.plug_in_bits == pytest.approx(plug_in)
    assert estimate.bits == pytest.approx(plug_in + (2 - 1) / (2 * 4 * math.log(2)))
    assert (estimate.tokens, estimate.cells) == (4, 2)


def test_a_deterministic_successor_leaves_no_conditional_entropy():
    size = 64
    row = np.arange(64 * 50) % size  # every code is the previous one + 1
    counts = StreamCounts.from_codes("codes", row[None, :], size).codebooks[0]
    assert entropy(counts.unigram).plug_in_bits == pytest.approx(math.log2(size))
    assert conditional_entropy(counts.prev_frame, size).bits == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------------------------ the counts


def test_counts_of_two_halves_add_up_to_the_counts_of_both():
    rng = np.random.default_rng(5)
    first, second = rng.integers(0, 32, (3, 40)), rng.integers(0, 32, (3, 70))
    halves = sum_stream_counts([StreamCounts.from_codes("codes", first, 32), StreamCounts.from_codes("codes", second, 32)])
    for q, book in enumerate(halves.codebooks):
        assert book.unigram == SparseCounts.of(np.concatenate([first[q], second[q]]))
        # Pairs never cross from one utterance into the next.
        pairs = np.concatenate([first[q, :-1] * 32 + first[q, 1:], second[q, :-1] * 32 + second[q, 1:]])
        assert book.prev_frame == SparseCounts.of(pairs)
    assert halves.num_frames == 110
    with pytest.raises(ValueError, match="cannot add"):
        sum_stream_counts([StreamCounts.from_codes("codes", first, 32), StreamCounts.from_codes("codes", first, 64)])


# ------------------------------------------------------------------------------- token records


def _encoded(codes: np.ndarray, seconds: float) -> EncodedAudio:
    point = OperatingPoint("6 kbps", 6.0, frame_rate_hz=75.0, num_codebooks=codes.shape[0], codebook_size=1024)
    return EncodedAudio(TokenPayload(codes.astype(np.int32)), codes.size * 10, int(24000 * seconds), 24000, point)


def test_a_report_puts_the_entropy_coded_rate_next_to_the_nominal_one():
    codes = np.random.default_rng(2).integers(0, 1024, (8, 750))
    report = token_report([measure_tokens(_encoded(codes, 10.0))])
    record = report.to_dict()
    assert record["measured_kbps"] == 6.0
    assert record["entropy_coded_kbps"] == pytest.approx(6.0, rel=0.01)  # random codes do not compress
    assert record["tokens"] == 6000 and len(record["streams"][0]["per_codebook"]) == 8
    assert "Miller-Madow" in record["estimator"]


def test_a_stored_stream_gives_back_its_counts_from_its_coded_bytes_alone():
    codes = np.random.default_rng(4).integers(0, 1024, (3, 200))
    stream = measure_tokens(_encoded(codes, 200 / 75)).streams[0]
    again = StreamTokens.from_coded("codes", stream.coded, 3, 200, 1024, stream.model_bits, stream.codes_crc32)
    assert again.counts == stream.counts == StreamCounts.from_codes("codes", codes, 1024)
    assert again.coded_bits == stream.coded_bits == 8 * len(stream.coded)
    damaged = stream.coded[: len(stream.coded) // 2] + bytes(len(stream.coded) - len(stream.coded) // 2)
    with pytest.raises(ValueError, match="do not decode to the codes that were coded"):
        StreamTokens.from_coded("codes", damaged, 3, 200, 1024, stream.model_bits, stream.codes_crc32)


def test_a_clip_too_short_for_the_estimator_gets_its_figures_with_a_warning():
    codes = np.random.default_rng(2).integers(0, 1024, (2, 30))
    report = token_report([measure_tokens(_encoded(codes, 0.4))])
    assert report.entropy_coded_kbps > 0 and report.mean_entropy_bits > 0
    assert any("only 30 tokens per codebook, fewer than its 1024 entries" in warning for warning in report.warnings)
    assert any("tokens per context" in warning for warning in report.warnings)


def test_codecs_without_tokens_are_refused_not_reported_as_zero():
    audio = Audio(clip(1, 1.0), 16000)
    for name, kbps in (("opus", 6.0), ("lowpass_3500", None)):
        codec = load_codec(name)
        result = transcode(codec, audio, codec.spec.operating_point(kbps))
        with pytest.raises(NoTokensError, match="sends no tokens"):
            measure_tokens(result.encoded)


# ------------------------------------------------------------------------------- evaluations


def _request(root, limit=None) -> EvaluationRequest:
    return EvaluationRequest(
        testsets=(parse_testset_spec(f"mini=folder:{root}"),),
        conditions=(Condition("encodec_24khz", 3.0), Condition("facodec", 4.8), Condition("opus", 6.0)),
        scoring=ScoringConfig(("sisnr",)), limit=limit,
    )


def _evaluate(database, request) -> int:
    with LocalExecutor(batch_size=2) as executor:
        summary = run_evaluation(database, plan_evaluation(request), executor)
    lines = {line.split()[2]: line for line in summary.describe().splitlines() if line.startswith("  mini")}
    assert "tokens entropy-coded at" in lines["encodec_24khz@3"] and "tokens" in lines["facodec@4.8"]
    assert "tokens" not in lines["opus@6"]  # Opus sends no tokens: no figure, not a zero
    return summary.computed


def _reports(database) -> dict:
    with database.session(read_only=True) as session:
        return {key: report.to_dict() for key, report in token_reports(session).items()}


def test_a_test_set_evaluated_in_two_halves_adds_up_to_one_run_over_it(tiny_models, tmp_path):
    make_folder(tmp_path / "clips", 4, seconds=1.2)
    halves = open_database(f"sqlite:///{tmp_path / 'halves.sqlite3'}")
    whole = open_database(f"sqlite:///{tmp_path / 'whole.sqlite3'}")
    assert _evaluate(halves, _request(tmp_path / "clips", limit=2)) == 6
    assert {report["utterances"] for report in _reports(halves).values()} == {2}
    assert _evaluate(halves, _request(tmp_path / "clips")) == 6  # the other half
    assert _evaluate(whole, _request(tmp_path / "clips")) == 12
    in_halves, in_one = _reports(halves), _reports(whole)
    assert len(in_one) == 2  # encodec and facodec; opus sends no tokens
    assert in_halves == in_one
    for record in in_one.values():
        assert record["utterances"] == 4
    facodec = next(r for r in in_one.values() if len(r["streams"]) > 1)
    assert [s["stream"] for s in facodec["streams"]] == ["prosody", "content", "residual"]
    with whole.session(read_only=True) as session:
        for key in in_one:
            units = stored_unit_tokens(session, *key)
            coded = sum(stream.coded_bits for unit in units for stream in unit.streams)
            seconds = sum(unit.duration_s for unit in units)
            assert in_one[key]["entropy_coded_kbps"] == round(coded / seconds / 1000, 4)
    halves.close()
    whole.close()


def test_units_stored_before_token_statistics_get_them_without_being_scored_again(tiny_models, tmp_path):
    make_folder(tmp_path / "clips", 2, seconds=1.2)
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert _evaluate(database, _request(tmp_path / "clips")) == 6
    before = _reports(database)
    with database.session() as session:
        scores_before = session.execute(select(EvalScoreRow.id, EvalScoreRow.run_id, EvalScoreRow.value)
                                        .order_by(EvalScoreRow.id)).all()
        units_before = session.execute(select(EvalUnitRow.id, EvalUnitRow.run_id).order_by(EvalUnitRow.id)).all()
        session.execute(delete(EvalTokenStreamRow))  # as a database from before this feature
    assert _reports(database) == {}
    with database.session(read_only=True) as session:
        cells = Leaderboard.from_database(session, "sisnr").cells.set_index("codec")
    assert cells.loc["encodec_24khz", "token_warnings"] == NOT_MEASURED  # not "sends no tokens"
    assert cells.loc["opus", "token_warnings"] is None
    assert _evaluate(database, _request(tmp_path / "clips")) == 4  # the token codecs' units, not opus's
    assert _reports(database) == before
    with database.session(read_only=True) as session:
        assert session.execute(select(EvalScoreRow.id, EvalScoreRow.run_id, EvalScoreRow.value)
                               .order_by(EvalScoreRow.id)).all() == scores_before
        assert session.execute(select(EvalUnitRow.id, EvalUnitRow.run_id).order_by(EvalUnitRow.id)).all() == units_before
    assert _evaluate(database, _request(tmp_path / "clips")) == 0  # nothing left to do
    with database.session(read_only=True) as session:
        assert session.scalar(select(func.count(EvalTokenStreamRow.id))) == 2 * 1 + 2 * 3
    database.close()


def test_a_run_stores_each_cells_figures_and_a_summary_out_of_date_is_made_again(tiny_models, tmp_path, monkeypatch):
    from codecbench.evaluation import token_summary

    make_folder(tmp_path / "clips", 3, seconds=1.2)
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert _evaluate(database, _request(tmp_path / "clips")) == 9
    made = _reports(database)
    with database.session(read_only=True) as session:
        assert session.scalar(select(func.count(EvalTokenSummaryRow.id))) == 2

    def no_decoding(*args, **kwargs):
        raise AssertionError("the stored summary should have been read")

    token_summary._cache.clear()
    with monkeypatch.context() as patched:
        patched.setattr(token_summary, "stored_unit_tokens", no_decoding)
        assert _reports(database) == made  # read from the summaries, not decoded again

    with database.session() as session:  # one unit's token record goes (as an interrupted run would leave it)
        first = session.scalar(select(EvalTokenStreamRow.unit_id).order_by(EvalTokenStreamRow.unit_id).limit(1))
        session.execute(delete(EvalTokenStreamRow).where(EvalTokenStreamRow.unit_id == first))
    with monkeypatch.context() as patched:  # made a moment ago: not made again at every request
        patched.setattr(token_summary, "stored_unit_tokens", no_decoding)
        assert sorted(r["utterances"] for r in _reports(database).values()) == [3, 3]
    monkeypatch.setattr(token_summary, "REMAKE_INTERVAL_S", 0.0)
    assert sorted(r["utterances"] for r in _reports(database).values()) == [2, 3]  # the stale summary is not shown
    assert token_summary.refresh_token_summaries(database) == 1
    token_summary._cache.clear()
    with monkeypatch.context() as patched:
        patched.setattr(token_summary, "stored_unit_tokens", no_decoding)
        assert sorted(r["utterances"] for r in _reports(database).values()) == [2, 3]
    database.close()


def test_stored_codes_of_another_coder_version_are_measured_again_not_decoded(tiny_models, tmp_path):
    make_folder(tmp_path / "clips", 2, seconds=1.2)
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert _evaluate(database, _request(tmp_path / "clips")) == 6
    before = _reports(database)
    with database.session() as session:  # as if an older codecbench's coder had written them
        session.execute(update(EvalTokenStreamRow).values(coder_version=0))
    assert _reports(database) == {}
    assert _evaluate(database, _request(tmp_path / "clips")) == 4  # the token codecs' units, measured again
    assert _reports(database) == before
    with database.session(read_only=True) as session:
        assert set(session.scalars(select(EvalTokenStreamRow.coder_version))) == {CODER_VERSION}
    database.close()


def test_token_figures_over_other_utterances_than_the_metric_say_so(tiny_models, tmp_path):
    make_folder(tmp_path / "clips", 3, seconds=1.2)
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert _evaluate(database, _request(tmp_path / "clips")) == 9
    with database.session() as session:  # one unit's metric is gone (a unit scored with other metrics only)
        unit = session.scalar(select(EvalTokenStreamRow.unit_id).order_by(EvalTokenStreamRow.unit_id).limit(1))
        session.execute(delete(EvalScoreRow).where(EvalScoreRow.unit_id == unit))
    with database.session(read_only=True) as session:
        cells = Leaderboard.from_database(session, "sisnr").cells
    warned = cells[cells["token_warnings"].map(lambda w: isinstance(w, str) and "the metric over 2" in w)]
    assert len(warned) == 1 and "token figures over 3 utterances" in warned.iloc[0]["token_warnings"]
    database.close()
