"""`codecbench mushra ...` run as a user runs it: real processes, a real SQLite file."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import time

import httpx
import pytest

from codecbench.storage import open_database
from tests.browser import free_port
from tests.cli_runner import CODECBENCH, run_cli
from tests.mushra_helpers import complete, start, write_test_files


@pytest.fixture(scope="module")
def created(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-cli")
    spec_path = write_test_files(folder, num_items=3, crowd={"completion_code": "CODE1"})
    url = f"sqlite:///{folder / 'db.sqlite3'}"
    completed = run_cli("mushra", "create", str(spec_path), "--db", url, "--base-url", "https://listen.example.org")
    assert completed.returncode == 0, completed.stderr
    return url, completed


def test_create_prints_the_test_id_and_the_links(created):
    _, completed = created
    lines = completed.stdout.splitlines()
    assert lines[0] == "test id: 1"
    assert re.fullmatch(r"participant link: https://listen\.example\.org/mushra/\?test=[\w-]{24}", lines[1])
    assert lines[2].startswith("crowd link: https://listen.example.org/mushra/?test=")
    assert lines[2].endswith("&PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}")
    assert lines[3] == "admin link: https://listen.example.org/admin/?test=1"
    assert "BS.1534-3 suggests" in completed.stderr  # 3 items for 2 systems is below the advice


def test_results_and_export_with_screening(created, tmp_path):
    url, _ = created
    database = open_database(url)
    with database.session() as session:
        from codecbench.listening_test.design import get_test

        test = get_test(session, 1)
    expert = {"reference": 100.0, "lowpass_3500": 20.0, "lowpass_7000": 55.0, "opus@6": 72.0, "codec2@3.2": 41.0}
    complete(database, start(database, test, PROLIFIC_PID="good"), rate=expert.get)
    complete(database, start(database, test, PROLIFIC_PID="careless"), rate=lambda condition: 30.0)
    database.close()

    results = run_cli("mushra", "results", "1", "--db", url, "--screening", "bs1534", "--per-item")
    assert results.returncode == 0, results.stderr
    out = results.stdout
    assert "2 assessor(s) with ratings; 1 kept after screening 'bs1534'" in out
    assert "- careless: hidden reference < 90 in 2 of 2 items (100% > 15%)" in out
    assert re.search(r"^  opus@6\s+system\s+2\s+1\s+72\.0", out, re.M)
    assert "Per item and condition:" in out and "Paired comparisons" in out

    lenient = run_cli("mushra", "results", "1", "--db", url, "--screening", "bs1534", "--threshold", "reference_below=20")
    assert "2 kept after screening" in lenient.stdout

    output = tmp_path / "ratings.csv"
    exported = run_cli("mushra", "export", "1", "--format", "csv", "-o", str(output), "--db", url, "--screening", "encodec")
    assert exported.returncode == 0, exported.stderr
    assert "wrote 10 rating(s) from 1 assessor(s)" in exported.stderr and "excluded 1: careless" in exported.stderr
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and {row["participant"] for row in rows} == {"good"}
    assert list(rows[0]) == ["test_id", "participant", "item", "condition", "kind", "rating", "training",
                             "trial_position", "label", "submitted_at", "stimulus_sha256",
                             "headphone_check", "headphone_correct", "age_range", "hearing_problems", "device"]
    everything = run_cli("mushra", "export", "1", "-o", str(tmp_path / "all.csv"), "--db", url)
    assert "wrote 20 rating(s) from 2 assessor(s)" in everything.stderr

    listing = run_cli("mushra", "list", "--db", url)
    assert listing.stdout.startswith("1\topen\t2 participant(s)\t3 item(s)\t5 rated condition(s)\tOpus against Codec 2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("results", "7"), "no MUSHRA test with id 7; tests in this database: 1"),
        (("results", "1", "--screening", "bs1534", "--threshold", "reference=3"), "has no threshold reference"),
        (("results", "1", "--threshold", "x"), "write NAME=NUMBER"),
        (("export", "9", "-o", "x.csv"), "no MUSHRA test with id 9"),
    ],
)
def test_mistakes_get_clear_messages(created, args, message):
    url, _ = created
    completed = run_cli("mushra", *args, "--db", url)
    assert completed.returncode != 0
    assert message in completed.stderr


def test_ids_no_id_column_can_hold_are_no_test_on_either_database(database_url, tmp_path):
    """PostgreSQL's INTEGER ends at 2**31 - 1, SQLite's at 2**63 - 1: beyond, the query itself
    failed (a traceback); now it is one line saying there is no such test."""
    for test_id in ("2147483648", "9223372036854775808", "99999999999999999999999"):
        for args in (["results", test_id], ["export", test_id, "-o", str(tmp_path / "x.csv")]):
            completed = run_cli("mushra", *args, "--db", database_url)
            assert completed.returncode == 1, completed.stderr
            assert completed.stderr.startswith(f"Error: no MUSHRA test with id {test_id}; this database has none yet")
            assert "Traceback" not in completed.stderr and len(completed.stderr.splitlines()) == 1


def test_create_refuses_a_bad_test_yaml_and_stores_nothing(tmp_path):
    spec_path = write_test_files(tmp_path, num_items=2)
    spec_path.write_text(spec_path.read_text().replace("codec: opus", "codec: opsu"))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    completed = run_cli("mushra", "create", str(spec_path), "--db", url)
    assert completed.returncode == 1
    assert "conditions[0].codec: unknown codec 'opsu'. Did you mean opus?" in completed.stderr
    assert run_cli("mushra", "list", "--db", url).stdout == ""


def test_app_serves_the_participant_and_admin_pages_from_the_given_database(created):
    url, _ = created
    port = free_port()
    server = subprocess.Popen([CODECBENCH, "app", "--port", str(port), "--db", url], stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, text=True, env={**os.environ, "CODECBENCH_ADMIN_PASSWORD": ""})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/mushra/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.3)
        assert httpx.get(f"http://127.0.0.1:{port}/admin/", timeout=10).status_code == 200
        missing = httpx.post(f"http://127.0.0.1:{port}/mushra-api/sessions", json={"test": "nope"}, timeout=10)
        assert missing.status_code == 404 and "not valid" in missing.json()["detail"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "the Admin page refuses every request" in stderr and f"database: {url}" in stderr


def test_create_warns_when_participants_would_learn_what_is_tested(created):
    _, completed = created  # the helper's test is named "Opus against Codec 2", with no title
    assert "warning: name mentions codec2, opus" in completed.stderr and "title:" in completed.stderr


def test_a_too_long_item_names_the_test_yaml_key_to_raise(tmp_path):
    spec_path = write_test_files(tmp_path, num_items=2, duration_s=1.5, max_item_duration_s=1.0, title="Speech")
    completed = run_cli("mushra", "create", str(spec_path), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert completed.returncode == 1
    assert "max_item_duration_s" in completed.stderr and "--max-duration" not in completed.stderr
    assert "warning: name mentions" not in completed.stderr  # a neutral title is set
