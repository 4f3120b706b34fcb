"""Test-set loaders: each named test set loads from its documented root in its real layout."""

from __future__ import annotations

import logging
import tarfile

import numpy as np
import pytest

from codecbench.audio import AudioError
from codecbench.evaluation.datasets import (
    AudioFile,
    AudioSpan,
    TarMember,
    TestSet,
    TestSetError,
    load_testset,
    source_from_dict,
)
from tests.corpora import (
    SAMPLE_RATE_HZ,
    MiniCorpus,
    make_aishell1,
    make_aishell2,
    make_gigaspeech,
    make_librispeech,
    make_wenetspeech,
)


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))


def assert_matches(testset: TestSet, corpus: MiniCorpus, *, exact_audio: bool = True) -> None:
    """Ids, counts, texts, speakers and skipped ids as the corpus says; every utterance's audio as written."""
    assert sorted(u.id for u in testset.utterances) == sorted(corpus.texts)
    assert len(testset) == testset.total_utterances == len(corpus.texts)
    assert {u.id: u.text for u in testset.utterances} == corpus.texts
    assert {u.id: u.speaker for u in testset.utterances} == corpus.speakers
    assert {s.id for s in testset.skipped} == corpus.skipped
    for utterance in testset.utterances:
        audio = utterance.read_audio()
        expected = corpus.audio[utterance.id]
        assert audio.sample_rate_hz in (SAMPLE_RATE_HZ, 44_100)
        if exact_audio:
            np.testing.assert_array_equal(audio.samples, expected)
        else:  # decoded Opus: the same speech, time-aligned, within the codec's error
            assert audio.num_samples == expected.size
            error = np.sum((audio.samples - expected) ** 2) / np.sum(expected**2)
            assert 10 * np.log10(1 / error) > 10


# --------------------------------------------------------------------------------------
# LibriSpeech


@pytest.mark.parametrize("give", ["parent", "LibriSpeech"])
def test_librispeech_parts_load_from_the_librispeech_folder_or_its_parent(tmp_path, give):
    corpora = make_librispeech(tmp_path / "data")
    root = tmp_path / "data" if give == "parent" else tmp_path / "data" / "LibriSpeech"
    for part in ("test-clean", "test-other"):
        testset = load_testset(f"librispeech-{part}={root}")
        assert_matches(testset, corpora[part])
        assert testset.name == testset.kind == f"librispeech-{part}"
        assert all(u.language == "en" and isinstance(u.source, AudioFile) for u in testset.utterances)
    clean = load_testset(f"librispeech-test-clean={root}")
    assert [u.id for u in clean.utterances] == ["1089-134686-0000", "1089-134686-0001", "121-121726-0000"]


def test_librispeech_reports_each_missing_flac_with_its_path(tmp_path, caplog):
    make_librispeech(tmp_path)
    with caplog.at_level(logging.WARNING):
        testset = load_testset(f"librispeech-test-clean={tmp_path}")
    missing = next(s for s in testset.skipped if s.id == "1089-134686-0042")
    assert missing.location.endswith("test-clean/1089/134686/1089-134686-0042.flac")
    assert "no such file" in missing.reason
    assert "1089-134686-0042.flac" in caplog.text


def test_librispeech_root_without_the_part_says_what_it_expected(tmp_path):
    (tmp_path / "LibriSpeech" / "test-other").mkdir(parents=True)
    with pytest.raises(TestSetError, match=r"no folder 'test-clean' in .*LibriSpeech folder"):
        load_testset(f"librispeech-test-clean={tmp_path}")


# --------------------------------------------------------------------------------------
# AISHELL-1


@pytest.mark.parametrize("packed", [False, True], ids=["unpacked", "per-speaker-tar.gz"])
def test_aishell1_test_loads_unpacked_or_from_the_speaker_archives(tmp_path, packed):
    corpus = make_aishell1(tmp_path, packed=packed)
    testset = load_testset(f"aishell1-test={tmp_path}")
    assert_matches(testset, corpus)
    assert all(u.language == "zh" for u in testset.utterances)
    assert all(isinstance(u.source, TarMember if packed else AudioFile) for u in testset.utterances)
    reasons = {s.id: s.reason for s in testset.skipped}
    assert "no line in aishell_transcript_v0.8.txt" in reasons["BAC009S0765W0999"]
    assert "no such file" in reasons["BAC009S0764W0500"]


def test_aishell1_reads_only_the_first_header_of_training_archives(tmp_path, monkeypatch):
    make_aishell1(tmp_path, packed=True)
    from codecbench.evaluation.datasets import aishell1

    listed = []
    real_list_archive = aishell1.list_archive
    monkeypatch.setattr(aishell1, "list_archive", lambda path, **kw: listed.append(path.name) or real_list_archive(path, **kw))
    load_testset(f"aishell1-test={tmp_path}")
    assert sorted(listed) == ["S0764.tar.gz", "S0765.tar.gz"]


def test_aishell1_tar_members_read_in_any_order_and_without_offsets(tmp_path):
    corpus = make_aishell1(tmp_path, packed=True)
    testset = load_testset(f"aishell1-test={tmp_path}")
    for utterance in reversed(testset.utterances):  # backwards: each read restarts the archive
        np.testing.assert_array_equal(utterance.read_audio().samples, corpus.audio[utterance.id])
    first = testset.utterances[0].source
    located = TarMember(first.archive, "./" + first.member)  # no offsets: the archive is listed to find it
    np.testing.assert_array_equal(located.read().samples, corpus.audio[testset.utterances[0].id])
    with pytest.raises(AudioError, match="no member of that name"):
        TarMember(first.archive, "test/S0764/nothing.wav").read()


def test_aishell1_truncated_archive_fails_per_utterance(tmp_path):
    make_aishell1(tmp_path, packed=True)
    testset = load_testset(f"aishell1-test={tmp_path}")
    archive = tmp_path / "data_aishell" / "wav" / "S0765.tar.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    victim = next(u for u in testset.utterances if u.speaker == "S0765")
    with pytest.raises(AudioError, match="S0765.tar.gz"):
        victim.read_audio()
    again = load_testset(f"aishell1-test={tmp_path}")  # indexing again reports the damage instead of failing
    assert any("S0765" in s.id and "damaged" in s.reason for s in again.skipped)
    assert {u.speaker for u in again.utterances} == {"S0764"}


def test_aishell1_errors_name_what_is_missing(tmp_path):
    with pytest.raises(TestSetError, match="no data_aishell folder"):
        load_testset(f"aishell1-test={tmp_path}")
    (tmp_path / "data_aishell.tgz").write_bytes(b"")
    with pytest.raises(TestSetError, match="unpack it there first"):
        load_testset(f"aishell1-test={tmp_path}")
    (tmp_path / "data_aishell" / "wav").mkdir(parents=True)
    with pytest.raises(TestSetError, match=r"no transcript at .*aishell_transcript_v0.8.txt"):
        load_testset(f"aishell1-test={tmp_path}")


# --------------------------------------------------------------------------------------
# AISHELL-2


@pytest.mark.parametrize("channel", ["iOS", "Android", "Mic"])
@pytest.mark.parametrize("give", ["AISHELL-DEV-TEST-SET", "parent"])
def test_aishell2_test_sets_load_through_their_wav_scp(tmp_path, channel, give):
    corpora = make_aishell2(tmp_path)
    root = tmp_path / "AISHELL-DEV-TEST-SET" if give != "parent" else tmp_path
    testset = load_testset(f"aishell2-test-{channel.lower()}={root}")
    assert_matches(testset, corpora[channel])
    expected_source = TarMember if channel == "Android" else AudioFile  # Android ships here as test.tar.gz
    assert all(isinstance(u.source, expected_source) for u in testset.utterances)
    assert not any("D0013" in u.id for u in testset.utterances)


def test_aishell2_tolerates_unexpected_paths_and_a_missing_wav_scp(tmp_path, caplog):
    corpora = make_aishell2(tmp_path)
    set_dir = tmp_path / "AISHELL-DEV-TEST-SET" / "iOS" / "test"
    scp = set_dir / "wav.scp"
    # paths written on the corpus makers' machine: found by file name under the set
    scp.write_text(scp.read_text().replace("\twav/", "\t/home/aishell/release/wav/"))
    assert_matches(load_testset(f"aishell2-test-ios={tmp_path}"), corpora["iOS"])
    scp.unlink()
    with caplog.at_level(logging.WARNING):
        testset = load_testset(f"aishell2-test-ios={tmp_path}")
    assert "no wav.scp" in caplog.text
    assert sorted(u.id for u in testset.utterances) == sorted(corpora["iOS"].texts)
    assert [s.id for s in testset.skipped] == ["IT0018W0004"]  # no trans.txt line


def test_aishell2_missing_channel_or_set_says_what_it_expected(tmp_path):
    make_aishell2(tmp_path)
    with pytest.raises(TestSetError, match="no AISHELL-DEV-TEST-SET folder"):
        load_testset(f"aishell2-test-ios={tmp_path / 'AISHELL-DEV-TEST-SET' / 'iOS'}")
    import shutil

    shutil.rmtree(tmp_path / "AISHELL-DEV-TEST-SET" / "Mic" / "test")
    with pytest.raises(TestSetError, match=r"neither a folder .*Mic/test .*nor .*test.tar.gz"):
        load_testset(f"aishell2-test-mic={tmp_path}")


# --------------------------------------------------------------------------------------
# WenetSpeech and GigaSpeech


def test_wenetspeech_test_sets_are_spans_of_the_long_recordings(tmp_path):
    corpora = make_wenetspeech(tmp_path)
    for name, subset in (("wenetspeech-test-net", "TEST_NET"), ("wenetspeech-test-meeting", "TEST_MEETING")):
        testset = load_testset(f"{name}={tmp_path}")
        assert_matches(testset, corpora[subset], exact_audio=False)
        for utterance in testset.utterances:
            assert isinstance(utterance.source, AudioSpan)
            assert (utterance.source.start_s, utterance.source.end_s) == corpora[subset].spans_s[utterance.id]
            assert utterance.source.sample_rate_hz == 16_000 and utterance.language == "zh"
    net = load_testset(f"wenetspeech-test-net={tmp_path}")
    assert [u.id for u in net.utterances] == ["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000", "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00001"]
    reasons = {s.id: s.reason for s in net.skipped}
    assert "garbage span" in reasons["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00002"]
    assert "not inside the recording" in reasons["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00003"]
    assert "no such file" in reasons["TEST_NET_Y0000000005_lost_S00000"]


def test_wenetspeech_json_is_parsed_once_for_both_test_sets(tmp_path, monkeypatch):
    make_wenetspeech(tmp_path)
    from codecbench.evaluation.datasets import longform_json

    parsed = []
    real = longform_json.iter_json_array
    monkeypatch.setattr(longform_json, "iter_json_array", lambda *a: parsed.append(a) or real(*a))
    first = load_testset(f"wenetspeech-test-net={tmp_path}")
    load_testset(f"wenetspeech-test-meeting={tmp_path}")
    assert load_testset(f"wenetspeech-test-net={tmp_path}") == first
    assert len(parsed) == 1
    (tmp_path / "WenetSpeech.json").write_text((tmp_path / "WenetSpeech.json").read_text().replace("大家好", "大家早"))
    assert load_testset(f"wenetspeech-test-net={tmp_path}").utterances[0].text == "大家早"  # a changed file is read again
    assert len(parsed) == 2


def test_gigaspeech_test_drops_garbage_segments(tmp_path):
    corpus = make_gigaspeech(tmp_path)
    testset = load_testset(f"gigaspeech-test={tmp_path}")
    assert_matches(testset, corpus, exact_audio=False)
    for utterance in testset.utterances:
        assert (utterance.source.start_s, utterance.source.end_s) == corpus.spans_s[utterance.id]
        assert utterance.language == "en"
    assert [s.reason for s in testset.skipped] == ["no such file: " + str(tmp_path / "audio/youtube/P0000/YOU1000000038.opus")]


def test_longform_errors_name_the_metadata_file(tmp_path):
    with pytest.raises(TestSetError, match=r"no WenetSpeech.json in .*WenetSpeech.json and audio/"):
        load_testset(f"wenetspeech-test-net={tmp_path}")
    (tmp_path / "GigaSpeech.json").write_text('{"dataset": "GigaSpeech", "audios": [{"aid": "x", "segments": []}, ')
    with pytest.raises(TestSetError, match=r"GigaSpeech.json: not valid JSON at character \d+"):
        load_testset(f"gigaspeech-test={tmp_path}")
    (tmp_path / "GigaSpeech.json").write_text('{"dataset": "GigaSpeech"}')
    with pytest.raises(TestSetError, match="has no 'audios' list"):
        load_testset(f"gigaspeech-test={tmp_path}")


def test_the_json_stream_handles_entries_split_across_chunks(tmp_path, monkeypatch):
    import json

    from codecbench.evaluation.datasets import longform_json

    monkeypatch.setattr(longform_json, "CHUNK_CHARS", 64)
    monkeypatch.setattr(longform_json, "_TRUNCATION_REACH_CHARS", 10_000)
    items = [{"aid": f"a{i}", "duration": 1234567.5 + i, "text": "文本" * i, "nested": [[i], {"k": None}]} for i in range(50)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"version": 12345678901234, "meta": {"a": [1, 2]}, "audios": items, "after": 1}, ensure_ascii=False))
    assert list(longform_json.iter_json_array(path, "audios")) == items


# --------------------------------------------------------------------------------------
# Sources


def test_sources_round_trip_through_dicts(tmp_path):
    for source in (
        AudioFile(tmp_path / "a.wav"),
        AudioSpan(tmp_path / "a.opus", 1.5, 2.25, 16_000),
        AudioSpan(tmp_path / "a.wav", 3.0),
        TarMember(tmp_path / "S1.tar.gz", "test/S1/x.wav", 512, 1000),
    ):
        assert source_from_dict(source.to_dict()) == source
    with pytest.raises(ValueError, match="start_s"):
        AudioSpan(tmp_path / "a.wav", -1.0, 2.0)
    with pytest.raises(ValueError, match="unknown audio source kind"):
        source_from_dict({"kind": "pipe"})


def test_aishell1_archives_are_read_in_one_pass_in_reading_order(tmp_path):
    make_aishell1(tmp_path, packed=True)
    testset = load_testset(f"aishell1-test={tmp_path}")
    for speaker in ("S0764", "S0765"):
        offsets = [u.source.data_offset_bytes for u in testset.utterances if u.speaker == speaker]
        assert offsets == sorted(offsets)
        with tarfile.open(tmp_path / "data_aishell" / "wav" / f"{speaker}.tar.gz") as tar:
            for utterance in (u for u in testset.utterances if u.speaker == speaker):
                assert tar.getmember(utterance.source.member).offset_data == utterance.source.data_offset_bytes
