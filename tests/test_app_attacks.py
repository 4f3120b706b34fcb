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


def gradio_event(url: str, fn_index: int, data: list, timeout: float = 120) -> list[dict]:
    """Run one event of a mounted Gradio app through its queue, as its page's JavaScript does;
    return the server-sent messages."""
    session = uuid.uuid4().hex
    joined = httpx.post(f"{url}gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None,
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
            for path in (app["secret"], app["secret"].with_name("missing.wav"), "/etc/passwd"):
                data = [{"path": str(path), "meta": {"_type": "gradio.FileData"}} if c["type"] in FILE_COMPONENTS
                        else c.get("props", {}).get("value") for c in inputs]
                messages = gradio_event(url, fn_index, data)
                completed = messages[-1]
                assert completed["msg"] == "process_completed" and completed["success"] is False, (base, fn_index)
                answers.append(completed["output"]["error"].replace(str(path), "PATH"))
                tried += 1
            assert answers == ["Cannot move PATH to the gradio cache dir because it was not uploaded by a user."] * 3
    assert tried >= 6  # the Listen page's comparison and voice conversion at least


def test_gradio_serves_no_file_outside_its_work_folder(app):
    for base in MOUNTED_APPS:
        for path in (app["secret"], "/etc/passwd", app["folder"] / "db.sqlite3"):
            response = httpx.get(f"{app['url']}{base}gradio_api/file={path}", timeout=30)
            assert response.status_code == 403, (base, path)
