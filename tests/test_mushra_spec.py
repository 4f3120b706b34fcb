"""test.yaml: what a valid test looks like, and the message each mistake gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from codecbench.listening_test.sources import load_items
from codecbench.listening_test.spec import (
    CodecCondition,
    CrowdSettings,
    FileCondition,
    SpecError,
    TestSetItems,
    TestSettings,
)
from codecbench.listening_test.spec_yaml import load_test_spec, parse_test_spec
from codecbench.synthetic import speech_like


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("a", "b", "c", "d", "e"):
        soundfile.write(tmp_path / f"{name}.wav", speech_like(1.0, 16_000, seed=ord(name)), 16_000)
    (tmp_path / "mine").mkdir()
    for name in ("a", "second", "c", "d", "e"):
        soundfile.write(tmp_path / "mine" / f"{name}.wav", speech_like(1.0, 16_000, seed=len(name)), 16_000)
    return tmp_path


def parse(folder: Path, text: str):
    return parse_test_spec(text, base_dir=folder, source="test.yaml")


BASE = """
name: My test
items: [a.wav, b.wav, c.wav, d.wav, e.wav]
conditions:
  - {codec: opus, bitrate_kbps: 6}
"""


def test_a_full_spec_is_parsed_with_paths_relative_to_the_file(folder):
    spec = parse(folder, """
name: Opus vs mine
items:
  - a.wav
  - {name: second, path: b.wav}
  - c.wav
  - d.wav
  - e.wav
conditions:
  - {codec: opus, bitrate_kbps: 6}
  - {codec: codec2, bitrate_kbps: 0.7, name: c2-700C}
  - {name: mine, files: "mine/{item}.wav", alignment: envelope}
anchors: [hidden_reference, lowpass_3500]
items_per_participant: 3
training_item: second
require_100: true
min_listen_s: 2
loudness_lufs: -23
crowd: {id_param: PROLIFIC_PID, completion_code: C0DE, redirect_url: "https://app.prolific.com/x?cc=C0DE"}
""")
    assert [item.name for item in spec.items] == ["a", "second", "c", "d", "e"]
    assert spec.items[1].path == (folder / "b.wav").resolve()
    assert spec.conditions[0] == CodecCondition("opus@6", "opus", 6.0)
    assert spec.conditions[1] == CodecCondition("c2-700C", "codec2", 0.7)
    mine = spec.conditions[2]
    assert isinstance(mine, FileCondition) and mine.alignment == "envelope"
    assert mine.files["second"] == (folder / "mine" / "second.wav").resolve()
    assert spec.anchors == ("hidden_reference", "lowpass_3500")
    assert spec.num_rated_stimuli == 5
    assert [(p.name, p.kind, p.rated) for p in spec.planned_conditions()] == [
        ("reference", "reference", True), ("lowpass_3500", "anchor_low", True),
        ("opus@6", "system", True), ("c2-700C", "system", True), ("mine", "system", True),
    ]
    settings = spec.settings(["a", "second", "c", "d", "e"])
    assert settings == TestSettings(
        items_per_participant=3, training=True, training_item="second", level_check=True, require_100=True,
        min_listen_s=2.0, instructions=None,
        crowd=CrowdSettings("PROLIFIC_PID", "C0DE", "https://app.prolific.com/x?cc=C0DE", True),
    )
    assert TestSettings.from_json(settings.to_json()) == settings


def test_defaults_follow_bs1534(folder):
    spec = parse(folder, BASE)
    assert spec.anchors == ("hidden_reference", "lowpass_3500", "lowpass_7000")
    assert spec.training and spec.level_check and not spec.require_100
    assert spec.settings([i.name for i in spec.items]).items_per_participant == 5
    assert spec.warnings == ()


def test_design_advice_is_a_warning_not_an_error(folder):
    spec = parse(folder, BASE.replace("[a.wav, b.wav, c.wav, d.wav, e.wav]", "[a.wav, b.wav]") + "training: false\nanchors: []\n")
    joined = " ".join(spec.warnings)
    assert "at least 5" in joined and "makes a training phase mandatory" in joined and "no hidden reference" in joined
    assert [p.rated for p in spec.planned_conditions()] == [False, True]  # open reference only


def test_a_missing_condition_file_names_the_item(folder):
    with pytest.raises(SpecError, match=r"conditions\[0\]\.files: .*other/c\.wav \(item c\): no such file"):
        parse(folder, BASE.replace("- {codec: opus, bitrate_kbps: 6}", "- {name: x, files: 'other/{item}.wav'}")
              .replace("items:", "items:").replace("[a.wav, b.wav, c.wav, d.wav, e.wav]", "[c.wav]"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("name: My test\n", ""), r"name: missing"),
        (("items: [a.wav, b.wav, c.wav, d.wav, e.wav]", "items: [a.wav, nothere.wav]"), r"items\[1\]: .*nothere.wav: no such file"),
        (("items: [a.wav, b.wav, c.wav, d.wav, e.wav]", "items: [a.wav, a.wav]"), r"the name\(s\) a are used twice"),
        (("codec: opus", "codec: opsu"), r"conditions\[0\]\.codec: unknown codec 'opsu'\. Did you mean opus"),
        (("bitrate_kbps: 6", "bitrate_kbps: 3"), r"bitrate_kbps: opus does not run at 3 kbps; choose one of 6"),
        (("codec: opus, bitrate_kbps: 6", "codec: lowpass_3500"), r"is a MUSHRA anchor; list it under `anchors:`"),
        (("codec: opus, bitrate_kbps: 6", "codec: opus, bitrate_kbps: 6, name: reference"), r"reference is the name of a condition the test adds"),
        (("{codec: opus, bitrate_kbps: 6}", "{codec: opus, bitrate_kbps: 6, birate: 3}"), r"unknown key\(s\) birate; allowed: name, codec, bitrate_kbps"),
        (("name: My test", "name: My test\nitems_per_participant: 9"), r"items_per_participant is 9 but the test has only 5 items"),
        (("name: My test", "name: My test\ntraining_item: z"), r"training_item 'z' is not an item"),
        (("name: My test", "name: My test\nrequire_100: yes please"), r"require_100: expected true or false"),
        (("name: My test", "name: My test\nloudness_lufs: 3"), r"loudness_lufs: 3 is above the maximum 0"),
        (("name: My test", "name: My test\nanchors: [lowpass_9000]"), r"anchors\[0\]: 'lowpass_9000' is not an anchor; choose from hidden_reference"),
        (("name: My test", "name: My test\ncrowd: {id_param: session}"), r"crowd\.id_param: 'session' is used by the link itself"),
        (("name: My test", "name: My test\ncrowd: {redirect_url: prolific.com}"), r"crowd\.redirect_url: must start with https://"),
        (("name: My test", "name: My test\nmin_listen_s: -1"), r"min_listen_s: -1 is below the minimum 0"),
        (("name: My test", "nmae: My test"), r"unknown key\(s\) nmae"),
    ],
)
def test_each_mistake_gets_a_message_naming_the_key(folder, change, message):
    old, new = change
    assert old in BASE
    with pytest.raises(SpecError, match=message):
        parse(folder, BASE.replace(old, new, 1))


def test_more_than_twelve_rated_stimuli_are_refused(folder):
    conditions = "\n".join(f"  - {{codec: opus, bitrate_kbps: {k}}}" for k in (6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
    text = f"name: big\nitems: [a.wav]\nconditions:\n{conditions}\n"
    spec = parse(folder, text.replace("15}", "15}").replace("  - {codec: opus, bitrate_kbps: 15}\n", ""))
    assert spec.num_rated_stimuli == 12  # 9 systems + 3 anchors is the most allowed
    with pytest.raises(SpecError, match=r"13 stimuli to rate \(10 conditions \+ 3 anchors\), more than the 12 ITU-R BS\.1534-3 allows"):
        parse(folder, text)


def test_yaml_syntax_errors_and_missing_files_are_reported(folder, tmp_path):
    with pytest.raises(SpecError, match="not valid YAML"):
        parse(folder, "name: [unclosed")
    with pytest.raises(SpecError, match="no such file"):
        load_test_spec(tmp_path / "absent.yaml")


def test_items_from_a_test_set_are_parsed_and_explain_what_is_missing(folder):
    spec = parse(folder, """
name: from a test set
items: {test_set: librispeech-test-clean, utterances: [1089-134686-0000, 1089-134686-0001]}
conditions: [{codec: opus, bitrate_kbps: 6}]
""")
    assert spec.items == TestSetItems("librispeech-test-clean", ("1089-134686-0000", "1089-134686-0001"))
    with pytest.raises(SpecError, match="read from the database that holds the test set.*list the audio files"):
        load_items(spec)


def test_an_item_longer_than_the_limit_is_refused_with_the_remedy(folder):
    soundfile.write(folder / "long.wav", speech_like(3.0, 16_000), 16_000)
    spec = parse(folder, BASE.replace("a.wav, b.wav", "long.wav, b.wav") + "max_item_duration_s: 2\n")
    with pytest.raises(SpecError, match=r"item long: .*3\.0 s long, over the limit of 2 s"):
        load_items(spec)


def test_the_documented_example_is_a_valid_test(tmp_path):
    page = (Path(__file__).resolve().parents[1] / "docs" / "mushra.md").read_text()
    example = page.split("## test.yaml\n\n```yaml\n", 1)[1].split("```", 1)[0]
    for name in ("f1", "m1", "f2", "m2", "f3"):
        for folder in ("clips", "outputs/my_model"):
            (tmp_path / folder).mkdir(parents=True, exist_ok=True)
            soundfile.write(tmp_path / folder / f"{name}.wav", speech_like(1.0, 16_000), 16_000)
    spec = parse_test_spec(example, base_dir=tmp_path)
    assert [c.name for c in spec.conditions] == ["opus@6", "codec2@3.2", "my_model"]
    assert spec.items_per_participant == 4 and spec.crowd.completion_code == "C1A2B3X"
    assert spec.warnings == ()


# ------------------------------------------------------------------ public title and blinding


def test_the_public_title_is_separate_from_the_internal_name(folder):
    spec = parse(folder, BASE + "title: How does speech sound?\n")
    assert spec.name == "My test" and spec.title == "How does speech sound?"
    settings = spec.settings(["a", "b", "c", "d", "e"])
    assert TestSettings.from_json(settings.to_json()).title == "How does speech sound?"
    assert not [w for w in spec.warnings if "mentions" in w]


def test_settings_stored_before_titles_existed_still_load():
    stored = '{"items_per_participant": 2, "training": true, "training_item": "a", "level_check": true, ' \
             '"require_100": false, "min_listen_s": 0.0, "instructions": null, "crowd": null}'
    assert TestSettings.from_json(stored).title is None


@pytest.mark.parametrize("extra, key, named", [
    ("name: Opus and Codec 2 at low bitrates\n", "name", "opus"),
    ("title: Opus quality\n", "title", "opus"),
    ("instructions: Rate the OPUS versions.\n", "instructions", "opus"),
])
def test_text_that_names_a_codec_gets_a_warning(folder, extra, key, named):
    text = BASE.replace("name: My test\n", "") if key == "name" else BASE
    spec = parse(folder, text + extra + "  \n")
    warnings = [w for w in spec.warnings if "mentions" in w]
    assert len(warnings) == 1 and warnings[0].startswith(key) and named in warnings[0]


def test_codec_2_written_with_a_space_is_recognised(folder):
    text = BASE.replace("name: My test\n", "name: Opus and Codec 2 at low bitrates\n") + \
        "  - {codec: codec2, bitrate_kbps: 3.2}\n"
    spec = parse(folder, text)
    [warning] = [w for w in spec.warnings if "mentions" in w]
    assert "codec2" in warning and "opus" in warning and "title:" in warning


def test_a_name_with_a_neutral_title_is_not_flagged(folder):
    text = BASE.replace("name: My test\n", "name: Opus at 6 kbps\ntitle: Speech quality\n")
    assert not [w for w in parse(folder, text).warnings if "mentions" in w]


def test_a_title_too_long_is_refused(folder):
    with pytest.raises(SpecError, match="title: .* at most 120"):
        parse(folder, BASE + "title: " + "x" * 121 + "\n")
