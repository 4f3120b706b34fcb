"""The Listen page's download and player routes, attacked over HTTP on a running app (127.0.0.1)."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from codecbench.app import AppSettings, launch
from codecbench.run_folders import new_run_dir
from tests.browser import free_port
from tests.test_app_attacks import gradio_event
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


def _gradio_event(url: str, fn_index: int, data: list, trigger_id: int | None, session: str,
                  event_data=None, timeout: float = 120) -> dict:
    """Run one event through the app's queue as a forged client would; the last message."""
    return gradio_event(url, fn_index, data, timeout, session=session, trigger_id=trigger_id,
                        event_data=event_data)[-1]


def test_a_forged_compare_runs_each_condition_once_and_only_ready_codecs(app, tmp_path):
    """Gradio checks each ticked value against its picker's choices but not repeats, nor whether
    the picker could be ticked at all: a forged event repeating opus@6 a hundred times (a hundred
    transcodes and scorings of a clip up to the upload bound) or ticking a codec without weights
    runs opus@6 once and nothing else."""
    import uuid

    import numpy as np

    from codecbench.audio import write_audio

    url = app["url"]
    config = httpx.get(f"{url}config", timeout=30).json()
    components = {component["id"]: component for component in config["components"]}
    index, dependency = next((i, d) for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "run_comparison")
    inputs = [components[i] for i in dependency["inputs"]]
    clip = write_audio(tmp_path / "clip.wav", 0.1 * np.sin(np.arange(16000) * 0.05).astype(np.float32), 16000)
    with clip.open("rb") as handle:
        uploaded = httpx.post(f"{url}gradio_api/upload", files={"files": ("clip.wav", handle)}, timeout=30).json()[0]
    data: list = [{"path": uploaded, "orig_name": "clip.wav", "meta": {"_type": "gradio.FileData"}}, "speech"]
    for component in inputs[2:]:
        props = component["props"]
        values = [value for _, value in props["choices"]]
        if props.get("elem_id") == "picker-opus":
            data.append(["opus@6"] * 100)
        elif props.get("interactive") is False and values:  # a codec that cannot run
            data.append(values[:1])
        else:
            data.append([])
    before = set(app["work_dir"].glob("run-*"))
    message = _gradio_event(url, index, data, dependency["targets"][0][0], uuid.uuid4().hex)
    assert message.get("success") is True, message
    (run_dir,) = set(app["work_dir"].glob("run-*")) - before
    record = json.loads((run_dir / "manifest.json").read_text())
    assert record["conditions"] == ["opus@6"]
    assert [outcome["condition"] for outcome in record["outcomes"]] == ["opus@6"]


def test_the_zip_is_streamed_from_a_file_with_its_length_and_few_are_written_at_once(app, monkeypatch):
    """A comparison's zip can be hundreds of MB: it is not built in memory per request, and
    requests beyond the writers get a 503 rather than each reading every WAV at once."""
    response = get(app, f"listen-api/runs/{app['run'].name}/download.zip")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist()
                   if info.filename.endswith(".wav"))

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from codecbench.app import listen_api

    monkeypatch.setattr(listen_api, "ZIP_WRITERS", 0)  # every writer busy
    server = FastAPI()
    server.include_router(listen_api.listen_api_router(app["work_dir"]))
    busy = TestClient(server).get(f"/listen-api/runs/{app['run'].name}/download.zip")
    assert busy.status_code == 503 and busy.headers["retry-after"]
