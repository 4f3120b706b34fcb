"""The errors of a participant's requests; each carries the HTTP status and a message for the participant."""

from __future__ import annotations


class FlowError(Exception):
    """A participant request that cannot be honoured; ``message`` is shown to the participant."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LinkNotValidError(FlowError):
    status_code = 404


class ParticipantRefusedError(FlowError):
    status_code = 403


class SubmissionRefusedError(FlowError):
    """The submission breaks a rule of the test (not all played, no 100, already final, ...)."""

    status_code = 409


class TooManySessionsError(FlowError):
    """Too many new sessions for the test, or from one address, in the window."""

    status_code = 429
