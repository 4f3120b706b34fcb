"""The Listen page's download and player routes, attacked over HTTP on a running app (127.0.0.1)."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from codecbench.app import AppSettings, launch
from codecbench.comparison import new_run_dir
from tests.browser import free_port
from tests.test_listen_record import make_run


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("app")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.wav").write_bytes(b"RIFF secret")
    settings = AppSettings(max_duration_s=30.0, work_dir=work_dir)
    running, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    run_dir = make_run(work_dir)
    yield {"url": url, "run": run_dir, "work_dir": work_dir, "outside": outside}
    running.close()


def get(app, path: str) -> httpx.Response:
    return httpx.get(app["url"] + path.lstrip("/"), timeout=30)


def test_the_owner_of_a_run_id_gets_its_state_files_zip_and_csv(app):
    run_id = app["run"].name
    state = get(app, f"listen-api/runs/{run_id}/state")
    assert state.status_code == 200 and state.headers["cache-control"] == "no-store"
    record = state.json()
    assert [o["condition"] for o in record["outcomes"]] == ["opus@6", "codec2@3.2"]
    audio = get(app, f"listen-api/runs/{run_id}/files/{record['outcomes'][0]['audio']}")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content == (app["run"] / record["outcomes"][0]["audio"]).read_bytes()
    strip = get(app, f"listen-api/runs/{run_id}/files/{record['original']['strip']}")
    assert strip.status_code == 200 and strip.content.startswith(b"\x89PNG")

    download = get(app, f"listen-api/runs/{run_id}/download.zip")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert "scores.csv" in archive.namelist() and "original.wav" in archive.namelist()
    scores = get(app, f"listen-api/runs/{run_id}/scores.csv")
    assert scores.status_code == 200 and scores.text.startswith("source,condition")


def test_guessed_traversing_and_unlisted_paths_all_get_the_same_404(app):
    run_id = app["run"].name
    work_dir, outside = app["work_dir"], app["outside"]
    # A folder that looks like a run but is a link to elsewhere, with a manifest naming its file.
    (outside / "manifest.json").write_text(json.dumps(
        {"original": {"audio": "secret.wav", "strip": None, "spectrogram": None}, "outcomes": []}))
    linked = "run-" + "L" * 32
    (work_dir / linked).symlink_to(outside, target_is_directory=True)
    unfinished = new_run_dir(work_dir).name  # a run folder without a record
    attempts = [
        f"listen-api/runs/run-{'A' * 32}/state",  # a guess of the right shape
        f"listen-api/runs/{run_id[:-1]}/state",  # one character short
        f"listen-api/runs/{run_id}x/download.zip",
        f"listen-api/runs/{unfinished}/state",
        f"listen-api/runs/{linked}/state",
        f"listen-api/runs/{linked}/files/secret.wav",
        f"listen-api/runs/{linked}/download.zip",
        "listen-api/runs/..%2F..%2F..%2Fetc/files/passwd",
        "listen-api/runs/%2e%2e/state",
        f"listen-api/runs/{run_id}/files/manifest.json",  # in the folder, but not a file the record lists
        f"listen-api/runs/{run_id}/files/scores.json",
        f"listen-api/runs/{run_id}/files/..%2F..%2Fetc%2Fpasswd",
        f"listen-api/runs/{run_id}/files/%2e%2e%2f{outside.name}%2fsecret.wav",
        f"listen-api/runs/{run_id}/files/original.wav%00.png",
    ]
    answers = []
    for path in attempts:
        response = get(app, path)
        answers.append((path, response.status_code))
        assert b"secret" not in response.content
    assert all(code == 404 for _, code in answers), answers
    # A guess, a folder without a record and a link out all get the same answer.
    bodies = {get(app, path).text for path in attempts[:7]}
    assert bodies == {json.dumps({"detail": "No such comparison (comparisons are kept for a day)."},
                                 separators=(",", ":"))}


def test_the_listen_routes_take_no_uploads(app):
    response = httpx.post(app["url"] + f"listen-api/runs/{app['run'].name}/state", json={}, timeout=30)
    assert response.status_code in (404, 405)
