"""Generic test sets (wav.scp, folder), the --testset spec, and reproducible samples."""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.evaluation.datasets import (
    NAMED_TESTSETS,
    AudioFile,
    AudioSpan,
    TestSetError,
    TestSetSpec,
    draw_sample,
    load_testset,
    parse_testset_spec,
)
from tests.corpora import clip, make_folder, write_pcm


def test_the_nine_named_test_sets_exist():
    assert list(NAMED_TESTSETS) == [
        "librispeech-test-clean", "librispeech-test-other", "aishell1-test",
        "aishell2-test-ios", "aishell2-test-android", "aishell2-test-mic",
        "wenetspeech-test-net", "wenetspeech-test-meeting", "gigaspeech-test",
    ]


# --------------------------------------------------------------------------------------
# --testset NAME=ROOT


def test_spec_forms(tmp_path):
    assert parse_testset_spec(f"aishell1-test={tmp_path}") == TestSetSpec("aishell1-test", "aishell1-test", tmp_path)
    assert parse_testset_spec(f"mine=wavscp:{tmp_path}/wav.scp") == TestSetSpec("mine", "wavscp", tmp_path / "wav.scp")
    assert parse_testset_spec(f" my.set_2 = folder:{tmp_path} ") == TestSetSpec("my.set_2", "folder", tmp_path)
    assert parse_testset_spec("x=folder:~/clips").path.is_absolute()
    spec = parse_testset_spec(f"mine=wavscp:{tmp_path}/a=b.scp")  # '=' in a path is fine
    assert spec.path == tmp_path / "a=b.scp" and str(spec) == f"mine=wavscp:{tmp_path}/a=b.scp"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("librispeech-test-clean", r"give its root too: librispeech-test-clean=ROOT, ROOT being the LibriSpeech folder"),
        ("librispeech-test-dirty=/data", r"unknown test set 'librispeech-test-dirty'; named test sets are librispeech-test-clean, .*NAME=wavscp:PATH"),
        ("/data/LibriSpeech", r"expected NAME=ROOT"),
        ("aishell1-test=folder:/x", r"'aishell1-test' is a named test set"),
        ("-bad=folder:/x", r"must start with a letter or digit"),
        ("gigaspeech-test=", r"the path is empty; expected the GigaSpeech folder"),
        ("mine=folder:", r"the path is empty; expected a folder of audio files"),
    ],
)
def test_bad_specs_say_what_is_expected(text, message):
    with pytest.raises(TestSetError, match=message):
        parse_testset_spec(text)


def test_a_missing_root_says_what_it_should_be(tmp_path):
    with pytest.raises(TestSetError, match=r"wenetspeech-test-net: no such file or folder .*nowhere; expected the unpacked WenetSpeech folder"):
        load_testset(f"wenetspeech-test-net={tmp_path / 'nowhere'}")


# --------------------------------------------------------------------------------------
# wav.scp


def test_kaldi_wav_scp_reports_unsupported_and_missing_entries_one_by_one(tmp_path, monkeypatch):
    data = tmp_path / "data" / "test"
    first, second = clip(1), clip(2)
    write_pcm(tmp_path / "audio" / "a.wav", first)
    write_pcm(data / "rel" / "b.wav", second)
    (data / "wav.scp").write_text(
        f"utt_a {tmp_path}/audio/a.wav\n"
        "utt_b rel/b.wav\n"
        "\n"
        "utt_pipe flac -c -d -s /corpus/x.flac |\n"
        "utt_ark /feats/raw.ark:1234\n"
        "utt_gone rel/gone.wav\n"
    )
    (data / "text").write_text("utt_a HELLO   WORLD\nutt_b\n")
    (data / "utt2spk").write_text("utt_a spk1\nutt_b spk2\n")
    monkeypatch.chdir(tmp_path)
    testset = load_testset("mine=wavscp:data/test/wav.scp")
    assert [(u.id, u.text, u.speaker) for u in testset.utterances] == [("utt_a", "HELLO WORLD", "spk1"), ("utt_b", "", "spk2")]
    np.testing.assert_array_equal(testset.utterances[1].read_audio().samples, second)
    reasons = {s.id: s.reason for s in testset.skipped}
    assert set(reasons) == {"utt_pipe", "utt_ark", "utt_gone"}
    assert "pipe commands in wav.scp are not supported" in reasons["utt_pipe"]
    assert "ark offsets" in reasons["utt_ark"]
    assert "no such file" in reasons["utt_gone"]
    assert load_testset(f"mine=wavscp:{data}").utterances == testset.utterances  # the folder holding wav.scp works too


def test_kaldi_segments_make_spans(tmp_path):
    long = clip(3, seconds=6.0)
    write_pcm(tmp_path / "long.wav", long)
    (tmp_path / "wav.scp").write_text(f"rec1 {tmp_path}/long.wav\nrec2 sox x.wav -t wav - |\n")
    (tmp_path / "segments").write_text(
        "seg1 rec1 0.5 2.0\n"
        "seg2 rec1 2.5 -1\n"
        "seg3 rec1 3.0 2.0\n"
        "seg4 rec9 0 1\n"
        "seg5 rec2 0 1\n"
        "seg6 rec1 zero one\n"
    )
    testset = load_testset(f"spans=wavscp:{tmp_path}/wav.scp")
    assert [(u.id, u.source) for u in testset.utterances] == [
        ("seg1", AudioSpan(tmp_path / "long.wav", 0.5, 1.5)),
        ("seg2", AudioSpan(tmp_path / "long.wav", 2.5, None)),
    ]
    np.testing.assert_array_equal(testset.utterances[0].read_audio().samples, long[8000:32000])
    np.testing.assert_array_equal(testset.utterances[1].read_audio().samples, long[40000:])
    reasons = {s.id: s.reason for s in testset.skipped}
    assert "ends (2.0 s) before it starts" in reasons["seg3"]
    assert "'rec9' is not in wav.scp" in reasons["seg4"]
    assert "pipe commands" in reasons["seg5"]
    assert "must be numbers" in reasons["seg6"]


def test_funcodec_input_wav_scp_with_spaces_in_paths(tmp_path):
    write_pcm(tmp_path / "my clips" / "one.wav", clip(4))
    (tmp_path / "input_wav.scp").write_text(f"one {tmp_path}/my clips/one.wav\n")
    testset = load_testset(f"fc=wavscp:{tmp_path}")
    assert [(u.id, u.source) for u in testset.utterances] == [("one", AudioFile(tmp_path / "my clips" / "one.wav"))]


def test_wav_scp_configuration_errors(tmp_path):
    (tmp_path / "wav.scp").write_text("a /x.wav\nb /y.wav\na /z.wav\n")
    with pytest.raises(TestSetError, match=r"wav.scp:3: id 'a' repeats line 1"):
        load_testset(f"x=wavscp:{tmp_path}/wav.scp")
    (tmp_path / "wav.scp").write_text("lonely\n")
    with pytest.raises(TestSetError, match=r"wav.scp:1: 'lonely' has a key but no value"):
        load_testset(f"x=wavscp:{tmp_path}/wav.scp")
    (tmp_path / "wav.scp").unlink()
    with pytest.raises(TestSetError, match="no wav.scp or input_wav.scp in the folder"):
        load_testset(f"x=wavscp:{tmp_path}")


# --------------------------------------------------------------------------------------
# folder


def test_folder_takes_every_audio_file_recursively(tmp_path):
    write_pcm(tmp_path / "b.wav", clip(5))
    write_pcm(tmp_path / "sub" / "a.flac", clip(6))
    write_pcm(tmp_path / "sub" / "C.WAV", clip(7))
    write_pcm(tmp_path / ".hidden.wav", clip(8))
    write_pcm(tmp_path / ".git" / "x.wav", clip(9))
    (tmp_path / "notes.txt").write_text("not audio")
    testset = load_testset(f"clips=folder:{tmp_path}")
    assert [u.id for u in testset.utterances] == ["b", "sub/C", "sub/a"]
    assert testset.kind == "folder" and testset.name == "clips"


def test_an_empty_folder_is_a_configuration_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TestSetError, match="no audio files under"):
        load_testset(f"clips=folder:{tmp_path / 'empty'}")


def test_an_unreadable_file_fails_when_read_not_when_indexed(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    write_pcm(tmp_path / "fine.wav", clip(10))
    testset = load_testset(f"clips=folder:{tmp_path}")
    assert len(testset) == 2
    from codecbench.audio import AudioError

    with pytest.raises(AudioError, match=r"broken.wav: not an audio file codecbench can read"):
        testset.utterances[0].read_audio()


# --------------------------------------------------------------------------------------
# --limit N --seed S


def test_samples_are_reproducible_nested_and_seed_dependent(tmp_path):
    make_folder(tmp_path, 30, seconds=0.6)
    full = load_testset(f"g=folder:{tmp_path}")
    small = load_testset(f"g=folder:{tmp_path}", limit=5, seed=3)
    assert small == load_testset(f"g=folder:{tmp_path}", limit=5, seed=3)
    assert len(small) == 5 and small.total_utterances == 30
    assert small.sample.limit == 5 and small.sample.seed == 3
    larger = draw_sample(full, 12, seed=3)
    assert {u.id for u in small.utterances} <= {u.id for u in larger.utterances}
    assert {u.id for u in draw_sample(full, 5, seed=4).utterances} != {u.id for u in small.utterances}
    order = [u.id for u in full.utterances]
    larger_ids = {u.id for u in larger.utterances}
    assert [u.id for u in larger.utterances] == sorted(larger_ids) == [i for i in order if i in larger_ids]
    assert draw_sample(full, 100, seed=0).utterances == full.utterances
    assert "a sample of 5, --limit 5 --seed 3" in small.summary()


def test_a_sample_does_not_depend_on_listing_order(tmp_path):
    make_folder(tmp_path, 20, seconds=0.6)
    full = load_testset(f"g=folder:{tmp_path}")
    from dataclasses import replace

    shuffled = replace(full, utterances=tuple(reversed(full.utterances)))
    assert {u.id for u in draw_sample(shuffled, 7, 1).utterances} == {u.id for u in draw_sample(full, 7, 1).utterances}
    with pytest.raises(ValueError, match="limit must be at least 1"):
        draw_sample(full, 0, 1)
