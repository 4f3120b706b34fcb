"""The participant API of MUSHRA tests: JSON routes the player calls, and stimulus audio by token.

Each route is one library call in one transaction; a :class:`FlowError` becomes its HTTP status
with ``{"detail": message}``, the message meant for the participant. Starting a session gives
the browser a key in an HttpOnly cookie; every other route acts only for the browser holding
the key of the session it names.
"""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from codecbench.listening_test import flow, headphone_check, participant_info, serving, submission
from codecbench.storage import Database

MUSHRA_API_PATH = "/mushra-api"
#: The cookie that ties a session to the browser that started it (see codecbench.listening_test.guard).
BROWSER_KEY_COOKIE = "codecbench_mushra_key"
BROWSER_KEY_BYTES = 32
BROWSER_KEY_MAX_AGE_S = 60 * 24 * 3600


def browser_key_cookie(key: str, *, secure: bool) -> str:
    """The ``Set-Cookie`` value that gives a browser its key (HttpOnly: page scripts never see it)."""
    return (f"{BROWSER_KEY_COOKIE}={key}; Max-Age={BROWSER_KEY_MAX_AGE_S}; Path=/; HttpOnly; SameSite=Lax"
            + ("; Secure" if secure else ""))


class BrowserKeyMiddleware:
    """Give every browser that opens a page under ``prefix`` a key cookie, from its first request.

    The participant page starts sessions in Gradio events, which cannot set cookies; the key
    is given with the page itself (and added to that first request, so that the request
    already carries it), and the page's later requests carry it to both the page's events
    and the participant API.
    """

    def __init__(self, app, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix) or _has_key(scope):
            return await self.app(scope, receive, send)
        key = secrets.token_urlsafe(BROWSER_KEY_BYTES)
        cookie = f"{BROWSER_KEY_COOKIE}={key}".encode()
        headers = [(name, value) for name, value in scope["headers"] if name != b"cookie"]
        existing = next((value for name, value in scope["headers"] if name == b"cookie"), b"")
        headers.append((b"cookie", existing + b"; " + cookie if existing else cookie))
        set_cookie = browser_key_cookie(key, secure=scope.get("scheme") == "https").encode("latin-1")

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app({**scope, "headers": headers}, receive, send_with_cookie)


def _has_key(scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"cookie" and f"{BROWSER_KEY_COOKIE}=".encode() in value:
            return True
    return False


def browser_key(request: Request) -> str:
    """The key the requesting browser holds, or ``""`` (never ``None``: every HTTP request is checked)."""
    key = request.cookies.get(BROWSER_KEY_COOKIE, "")
    return key if 0 < len(key) <= 100 else ""


# Every token the server issues is URL-safe base64 (codecbench.storage.listening_tables.new_token);
# anything else is refused before it reaches the database (a NUL byte, for one, makes PostgreSQL fail).
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class StartRequest(BaseModel):
    test: str = Field(max_length=100)
    params: dict[str, str] = Field(default_factory=dict, max_length=50)


class AdvanceRequest(BaseModel):
    from_stage: str = Field(max_length=20)


class PlayRequest(BaseModel):
    stimulus: str = Field(max_length=100)
    kind: str = Field(max_length=10)
    position_s: float
    listened_s: float = 0.0


class SubmitRequest(BaseModel):
    ratings: dict[str, object]


class ParticipantRequest(BaseModel):
    consent: StrictBool = False  # JSON true, not a word or number that reads as one
    answers: dict[str, str | None] = Field(default_factory=dict, max_length=len(participant_info.QUESTIONS))


class HeadphoneAnswerRequest(BaseModel):
    responses: list[StrictInt] = Field(max_length=headphone_check.NUM_TRIALS)  # "1", true or 1.0 are no picks


def mushra_api_router(database: Database) -> APIRouter:
    """Routes under :data:`MUSHRA_API_PATH` (start/resume, advance, play events, submit, stimuli)."""
    router = APIRouter(prefix=MUSHRA_API_PATH)

    def call(action, *, read_only: bool = False, tokens: tuple[str, ...] = ()):
        if not all(re.fullmatch(TOKEN_PATTERN, token) for token in tokens):
            return JSONResponse({"detail": "This link is not valid. Please check the address you were given."},
                                status_code=404)
        try:
            with database.session(read_only=read_only) as session:
                return action(session)
        except flow.FlowError as error:
            return JSONResponse({"detail": error.message}, status_code=error.status_code)
        except serving.StimulusIntegrityError as error:
            return JSONResponse({"detail": str(error)}, status_code=500)

    @router.post("/sessions")
    def start(body: StartRequest, request: Request):
        user_agent = request.headers.get("user-agent", "")
        key = browser_key(request) or secrets.token_urlsafe(BROWSER_KEY_BYTES)  # first visit: a new key
        address = request.client.host if request.client else ""
        response = call(lambda s: flow.start_session(s, body.test, body.params, user_agent=user_agent,
                                                     browser_key=key, address=address).to_dict(),
                        tokens=(body.test, *([body.params["session"]] if "session" in body.params else [])))
        if not isinstance(response, Response):
            response = JSONResponse(response)
        response.headers.append("set-cookie", browser_key_cookie(key, secure=request.url.scheme == "https"))
        return response

    @router.get("/sessions/{session_token}")
    def view(session_token: str, request: Request):
        return call(lambda s: flow.session_view(s, session_token, browser_key(request)).to_dict(),
                    tokens=(session_token,))

    @router.post("/sessions/{session_token}/advance")
    def advance(session_token: str, body: AdvanceRequest, request: Request):
        return call(lambda s: flow.advance(s, session_token, body.from_stage, browser_key(request)).to_dict(),
                    tokens=(session_token,))

    @router.post("/sessions/{session_token}/plays", status_code=204)
    def play(session_token: str, body: PlayRequest, request: Request):
        def log(session):
            submission.log_play(session, session_token, body.stimulus, body.kind, position_s=body.position_s,
                                listened_s=body.listened_s, browser_key=browser_key(request))
            return Response(status_code=204)
        return call(log, tokens=(session_token, body.stimulus))

    @router.post("/sessions/{session_token}/trials/{trial_token}")
    def submit(session_token: str, trial_token: str, body: SubmitRequest, request: Request):
        def store(session):
            result = submission.submit_trial(session, session_token, trial_token, body.ratings,
                                             browser_key=browser_key(request))
            return {"duplicate": result.duplicate, "view": result.view.to_dict()}
        return call(store, tokens=(session_token, trial_token))

    @router.post("/sessions/{session_token}/participant", status_code=204)
    def participant(session_token: str, body: ParticipantRequest, request: Request):
        def record(session):
            participant_info.record(session, session_token, consent_given=body.consent, answers=body.answers,
                                    browser_key=browser_key(request))
            return Response(status_code=204)
        return call(record, tokens=(session_token,))

    @router.post("/sessions/{session_token}/headphone-check")
    def headphone_start(session_token: str, request: Request):
        def begin(session):
            key = browser_key(request)
            trials = headphone_check.start_check(session, session_token, key)
            return {"trials": trials, "answered": headphone_check.is_answered(session, session_token, key)}
        return call(begin, tokens=(session_token,))

    @router.get("/sessions/{session_token}/headphone-check/{trial}")
    def headphone_audio(session_token: str, trial: int, request: Request):
        audio = call(lambda s: headphone_check.trial_audio(s, session_token, trial, browser_key(request)),
                     tokens=(session_token,))
        if isinstance(audio, Response):  # refused
            return audio
        return Response(audio, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})

    @router.post("/sessions/{session_token}/headphone-check/answer")
    def headphone_answer(session_token: str, body: HeadphoneAnswerRequest, request: Request):
        def answer(session):
            result = headphone_check.grade(session, session_token, body.responses, browser_key(request))
            return {"passed": result.passed}  # not which trials were wrong: a retry learns nothing
        return call(answer, tokens=(session_token,))

    @router.get("/stimuli/{stimulus_token}")
    def stimulus(stimulus_token: str, request: Request):
        served = call(lambda s: serving.served_stimulus(s, stimulus_token, browser_key=browser_key(request)),
                      tokens=(stimulus_token,))
        if isinstance(served, Response):  # refused
            return served
        audio = serving.with_dither(served, stimulus_token)  # after the transaction: it holds no lock
        return Response(audio.data, media_type=audio.media_type, headers={"Cache-Control": "private, max-age=86400"})

    return router
