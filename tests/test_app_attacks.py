"""Attacks on a running app, over HTTP on 127.0.0.1, as a stranger on the internet would try them."""

from __future__ import annotations

import json
import uuid

import httpx
import numpy as np
import pytest
import soundfile

from codecbench.app import AppSettings, launch
from tests.browser import free_port
from tests.mushra_helpers import prepare, store, write_test_files

ADMIN_PASSWORD = "correct horse battery staple"
MOUNTED_APPS = ("", "mushra/", "admin/")
FILE_COMPONENTS = {"audio", "file", "image", "video", "uploadbutton", "gallery", "model3d"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacked-app")
    secret = folder / "private" / "clip.wav"
    secret.parent.mkdir()
    soundfile.write(secret, (0.1 * np.random.default_rng(7).standard_normal(16_000)).astype(np.float32), 16_000,
                    subtype="FLOAT")
    spec_path = write_test_files(folder / "test", num_items=2, duration_s=1.2)
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    from codecbench.storage import open_database

    database = open_database(database_url)
    test = store(database, prepare(spec_path))
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password=ADMIN_PASSWORD)
    server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    yield {"url": url, "secret": secret, "folder": folder, "test": test, "database": database}
    server.close()
    database.close()


def gradio_event(url: str, fn_index: int, data: list, timeout: float = 120, *, session: str | None = None,
                 trigger_id: int | None = None, event_data=None) -> list[dict]:
    """Run one event of a mounted Gradio app through its queue, as its page's JavaScript does (or
    a forged client: any ``event_data``, events sharing a ``session``); return the server-sent messages."""
    session = session or uuid.uuid4().hex
    joined = httpx.post(f"{url}gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": event_data,
        "trigger_id": trigger_id,
    }, timeout=30)
    joined.raise_for_status()
    messages = []
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            messages.append(message)
            if message.get("msg") == "process_completed":
                break
    return messages


def file_taking_events(url: str) -> list[tuple[int, list[dict]]]:
    """Every event of the app at ``url`` with a file among its inputs, with its input components."""
    config = httpx.get(f"{url}config", timeout=30).json()
    components = {component["id"]: component for component in config["components"]}
    events = []
    for index, dependency in enumerate(config["dependencies"]):
        inputs = [components[i] for i in dependency["inputs"]]
        if any(component["type"] in FILE_COMPONENTS for component in inputs):
            events.append((index, inputs))
    return events


def test_no_event_of_any_mounted_app_opens_a_server_path(app):
    """A file input naming a server path is refused the same way whether the file exists or not."""
    tried = 0
    for base in MOUNTED_APPS:
        url = app["url"] + base
        for fn_index, inputs in file_taking_events(url):
            answers = []
            for path in (app["secret"], app["secret"].with_name("missing.wav"), "/etc/passwd", "relative.wav"):
                data = [{"path": str(path), "meta": {"_type": "gradio.FileData"}} if c["type"] in FILE_COMPONENTS
                        else c.get("props", {}).get("value") for c in inputs]
                messages = gradio_event(url, fn_index, data)
                completed = messages[-1]
                assert completed["msg"] == "process_completed" and completed["success"] is False, (base, fn_index)
                answers.append(completed["output"].get("error"))
                tried += 1
            # Gradio's own message names the absolute path (for a relative one: the server's working
            # folder); only errors the app raises for people (gr.Error) are shown.
            assert answers == [None] * 4, answers
    assert tried >= 6  # the Listen page's comparison and voice conversion at least


def test_gradio_serves_no_file_outside_its_work_folder(app):
    for base in MOUNTED_APPS:
        for path in (app["secret"], "/etc/passwd", app["folder"] / "db.sqlite3"):
            response = httpx.get(f"{app['url']}{base}gradio_api/file={path}", timeout=30)
            assert response.status_code == 403, (base, path)


def admin_show(url: str, password: str, test_id: int) -> dict:
    """The Admin page's Show event, through Gradio's queue as the page calls it."""
    return gradio_event(url + "admin/", 0, [password, str(test_id), "bs1534", False])[-1]


def test_wrong_admin_passwords_from_one_address_back_off_and_log_one_line_each(app, caplog, capfd):
    import logging
    import time

    caplog.set_level(logging.WARNING, logger="codecbench.app.admin_auth")
    answers = [admin_show(app["url"], f"guess {n}", app["test"].id) for n in range(7)]
    errors = [answer["output"]["error"] for answer in answers]
    assert errors[:6] == ["Wrong or missing admin password."] * 6  # five free, the sixth starts a wait
    assert errors[6].startswith("Too many wrong admin passwords from your address: try again in")
    blocked = admin_show(app["url"], ADMIN_PASSWORD, app["test"].id)  # refused unheard while blocked
    assert blocked["success"] is False and blocked["output"]["error"].startswith("Too many wrong admin passwords")
    # the evaluation panel of the main app asks the same password: guesses there share the wait
    fill = next(index for index, dependency in enumerate(httpx.get(app["url"] + "config").json()["dependencies"])
                if dependency.get("api_name") == "fill")
    through_listen_app = gradio_event(app["url"], fill, ["guess"])[-1]
    assert through_listen_app["output"]["error"].endswith("try again in 1 s.")

    lines = [record.getMessage() for record in caplog.records if record.name == "codecbench.app.admin_auth"]
    assert len(lines) == 6 and all("wrong or missing admin password from 127.0.0.1" in line for line in lines)
    assert "Traceback" not in capfd.readouterr().err

    time.sleep(1.1)
    accepted = admin_show(app["url"], ADMIN_PASSWORD, app["test"].id)
    assert accepted["success"] is True  # the wait is over, and the right password forgets the failures
    assert admin_show(app["url"], "one typo", app["test"].id)["output"]["error"] == "Wrong or missing admin password."


@pytest.mark.parametrize("base", ["mushra/", "admin/"])
def test_pages_that_take_no_files_refuse_uploads(app, base):
    response = httpx.post(f"{app['url']}{base}gradio_api/upload", files={"files": ("big.wav", b"RIFF" + bytes(100_000))})
    assert response.status_code == 403 and response.json() == {"detail": "This page takes no uploads."}
    assert "/" not in response.text.replace("This page takes no uploads.", "")  # no path stored, none told


def test_request_bodies_are_bounded_with_or_without_a_content_length(app):
    too_large = {"test": "x", "padding": "a" * 70_000}
    declared = httpx.post(f"{app['url']}mushra-api/sessions", json=too_large, timeout=30)
    assert declared.status_code == 413 and "at most 65536 bytes" in declared.json()["detail"]

    def chunks():  # chunked transfer encoding: no Content-Length to check up front
        for _ in range(200):
            yield b"a" * 1024

    chunked = httpx.post(f"{app['url']}mushra-api/sessions", content=chunks(),
                         headers={"content-type": "application/json"}, timeout=30)
    assert chunked.status_code == 413
    event = httpx.post(f"{app['url']}gradio_api/queue/join", content=b"{" + b" " * 2_000_000 + b"}",
                       headers={"content-type": "application/json"}, timeout=30)
    assert event.status_code == 413  # a Gradio event's inputs: 1 MB at most
    small = httpx.post(f"{app['url']}mushra-api/sessions", json={"test": "x"}, timeout=30)
    assert small.status_code != 413  # ordinary requests pass


def test_the_listen_page_takes_uploads_up_to_its_bound(tmp_path):
    settings = AppSettings(work_dir=tmp_path / "work", database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                           max_duration_s=1.0)  # 1 s of 48 kHz stereo float: 384,000 bytes + 1 MB
    server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    try:
        fits = httpx.post(f"{url}gradio_api/upload", files={"files": ("fits.wav", bytes(settings.max_upload_bytes - 1000))})
        assert fits.status_code == 200
        too_big = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.wav", bytes(settings.max_upload_bytes + 1))})
        assert too_big.status_code == 413
        # a form field without a file name (Gradio's max_file_size does not bound it), or many files
        field = httpx.post(f"{url}gradio_api/upload", files={"junk": (None, bytes(settings.max_upload_bytes + 2 ** 21))})
        assert field.status_code == 413
        many = httpx.post(f"{url}gradio_api/upload", files=[("files", (f"{n}.wav", bytes(800_000))) for n in range(4)])
        assert many.status_code == 413
    finally:
        server.close()
