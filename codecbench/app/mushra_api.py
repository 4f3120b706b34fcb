"""The participant API of MUSHRA tests: JSON routes the player calls, and stimulus audio by token.

Each route is one library call in one transaction; a :class:`FlowError` becomes its HTTP status
with ``{"detail": message}``, the message meant for the participant.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from codecbench.listening_test import flow, serving, submission
from codecbench.storage import Database

MUSHRA_API_PATH = "/mushra-api"


class StartRequest(BaseModel):
    test: str = Field(max_length=100)
    params: dict[str, str] = Field(default_factory=dict)


class AdvanceRequest(BaseModel):
    from_stage: str = Field(max_length=20)


class PlayRequest(BaseModel):
    stimulus: str = Field(max_length=100)
    kind: str = Field(max_length=10)
    position_s: float
    listened_s: float = 0.0


class SubmitRequest(BaseModel):
    ratings: dict[str, object]


def mushra_api_router(database: Database) -> APIRouter:
    """Routes under :data:`MUSHRA_API_PATH` (start/resume, advance, play events, submit, stimuli)."""
    router = APIRouter(prefix=MUSHRA_API_PATH)

    def call(action, *, read_only: bool = False):
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
        return call(lambda s: flow.start_session(s, body.test, body.params, user_agent=user_agent).to_dict())

    @router.get("/sessions/{session_token}")
    def view(session_token: str):
        return call(lambda s: flow.session_view(s, session_token).to_dict(), read_only=True)

    @router.post("/sessions/{session_token}/advance")
    def advance(session_token: str, body: AdvanceRequest):
        return call(lambda s: flow.advance(s, session_token, body.from_stage).to_dict())

    @router.post("/sessions/{session_token}/plays", status_code=204)
    def play(session_token: str, body: PlayRequest):
        def log(session):
            submission.log_play(session, session_token, body.stimulus, body.kind,
                                position_s=body.position_s, listened_s=body.listened_s)
            return Response(status_code=204)
        return call(log)

    @router.post("/sessions/{session_token}/trials/{trial_token}")
    def submit(session_token: str, trial_token: str, body: SubmitRequest):
        def store(session):
            result = submission.submit_trial(session, session_token, trial_token, body.ratings)
            return {"duplicate": result.duplicate, "view": result.view.to_dict()}
        return call(store)

    @router.get("/stimuli/{stimulus_token}")
    def stimulus(stimulus_token: str):
        def fetch(session):
            audio = serving.stimulus_audio(session, stimulus_token)
            return Response(audio.data, media_type=audio.media_type,
                            headers={"Cache-Control": "private, max-age=86400"})
        return call(fetch, read_only=True)

    return router
