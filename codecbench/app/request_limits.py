"""Bounds on what a stranger can send the server: request body sizes, and uploads only where a
page takes them.

Gradio's upload route exists under every mounted app, whether or not its page has an upload
component; the MUSHRA participant and Admin pages take none, so their upload routes are closed
(anything stored there could be served back from this server). Every other request body is
counted as it arrives (``Content-Length`` can be absent, with chunked encoding, or false) and
the request is answered 413 once it passes its bound, before the body is read into memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException

#: Bodies of the participant API: a trial's ratings are a few hundred bytes.
PARTICIPANT_API_MAX_BODY = 64 * 1024
#: Bodies of Gradio events (their inputs are settings and the names of uploaded files, not audio).
EVENT_MAX_BODY = 1024 * 1024

UPLOAD_ROUTE = "gradio_api/upload"


@dataclass(frozen=True)
class BodyLimit:
    """Requests whose path starts with ``prefix`` may send at most ``max_bytes``."""

    prefix: str
    max_bytes: int


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so that FastAPI answers it as such (413) rather
    than as a body it could not parse."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


class RequestLimitsMiddleware:
    """Refuse uploads under ``no_upload_prefixes`` (403) and bodies over their limit (413).

    ``limits`` are tried in order, the first whose prefix matches applies; ``upload_limits``
    bound the whole body of the upload route of the apps that take uploads (Gradio's own
    ``max_file_size`` bounds each file, but not form fields, nor the number of files).
    """

    def __init__(self, app, *, limits: Sequence[BodyLimit], no_upload_prefixes: Sequence[str],
                 upload_limits: Sequence[BodyLimit]) -> None:
        self.app = app
        self.limits = tuple(limits)
        self.no_upload_prefixes = tuple(no_upload_prefixes)
        self.upload_limits = tuple(upload_limits)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if any(path.startswith(prefix + UPLOAD_ROUTE) for prefix in self.no_upload_prefixes):
            return await _refuse(send, 403, "This page takes no uploads.")
        limit = next((rule.max_bytes for rule in self.upload_limits if path == rule.prefix + UPLOAD_ROUTE), None)
        if limit is None:
            limit = next((rule.max_bytes for rule in self.limits if path.startswith(rule.prefix)), None)
        if limit is None:
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send, 413, _too_large(limit))
        received = 0
        response_started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracked_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not response_started:
                await _refuse(send, 413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"The request body is too large: at most {limit} bytes are accepted here."


def _content_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
