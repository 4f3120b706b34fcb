"""A Hugging Face Hub on 127.0.0.1 serving a few model repositories, for download tests.

It answers the three requests ``huggingface_hub.snapshot_download`` makes (resolve a branch
to a commit, list a commit's files, fetch each file) the way huggingface.co does, so
``codecbench download`` runs for real against it (``HF_ENDPOINT=<url>``). It also records
which files were fetched.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass
class FakeRepo:
    commit: str
    files: dict[str, bytes]
    branches: tuple[str, ...] = ("main",)


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo]
    url: str = ""
    fetched: list[str] = field(default_factory=list)

    def add(self, repo_id: str, commit: str, source: Path) -> None:
        self.repos[repo_id] = FakeRepo(commit, {path.name: path.read_bytes() for path in sorted(source.iterdir())})


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _json(self, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _missing(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _repo(self, repo_id: str, revision: str) -> FakeRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None or revision not in (repo.commit, *repo.branches):
                return None
            return repo

        def do_GET(self) -> None:
            self._serve(with_body=True)

        def do_HEAD(self) -> None:
            self._serve(with_body=False)

        def _serve(self, with_body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path):
                repo = self._repo(*match.groups())
                if repo is None:
                    return self._missing()
                return self._json({"id": match.group(1), "sha": repo.commit, "siblings": [{"rfilename": n} for n in repo.files]})
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", path):
                repo = self._repo(*match.groups())
                if repo is None:
                    return self._missing()
                return self._json(
                    [
                        {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                        for name, data in repo.files.items()
                    ]
                )
            if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                repo = self._repo(match.group(1), match.group(2))
                data = None if repo is None else repo.files.get(match.group(3))
                if data is None:
                    return self._missing()
                self.send_response(200)
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    hub.fetched.append(f"{match.group(1)}/{match.group(3)}")
                    self.wfile.write(data)
                return None
            return self._missing()

    return Handler


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    """Run ``hub`` on a free port of 127.0.0.1 until the block ends; ``hub.url`` is its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
