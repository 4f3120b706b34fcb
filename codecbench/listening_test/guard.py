"""Who may act on a MUSHRA session, and how fast new sessions may be made.

A crowd ID costs nothing to invent, and one that is known (a colleague's, a forum post's)
must not open its owner's session. So the server gives each browser a random key (a cookie)
when it starts a session; the session then answers only requests carrying that key, and the
same crowd ID arriving from another browser is refused, not resumed. New sessions are capped
per test per minute and per client address per hour, so one script cannot enrol a crowd.

Keys and addresses are stored only as SHA-256 digests (addresses salted with the test's link
token). Library callers in the same process (the CLI, tests) pass ``browser_key=None``: they
are trusted; the HTTP layer always passes the request's key, empty when it has none.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.listening_test.errors import TooManySessionsError
from codecbench.listening_test.spec import CrowdSettings, TestSettings
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import ParticipantRow, SessionGuardRow, SessionRow

#: New sessions per test per minute when the test does not say (crowd.new_sessions_per_minute).
DEFAULT_NEW_SESSIONS_PER_MINUTE = CrowdSettings.new_sessions_per_minute
ANOTHER_BROWSER_MESSAGE = (
    "This study was started in another browser, and can only be continued there. If you cannot go back to it, "
    "please contact the researcher and quote your participant ID."
)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def address_digest(address: str, link_token: str) -> str:
    """The client address as stored: salted with the test's link token, then hashed."""
    return digest(f"{link_token}\x00{address}")


def browser_may_act(session: Session, row: SessionRow, browser_key: str | None) -> bool:
    """Whether a request with ``browser_key`` may act on the session ``row``.

    ``None`` (an in-process caller) always may. A session without a guard (made before
    guards existed) is bound to the first key that comes.
    """
    if browser_key is None:
        return True
    guard = session.get(SessionGuardRow, row.id)
    if guard is None:
        session.add(SessionGuardRow(session_id=row.id, browser_key_sha256=digest(browser_key),
                                    address_sha256=""))
        session.flush()
        return True
    return bool(browser_key) and hmac.compare_digest(guard.browser_key_sha256, digest(browser_key))


def guard_new_session(session: Session, row: SessionRow, browser_key: str | None, address_sha256: str,
                      now: datetime) -> None:
    """Bind a new session to its browser (nothing to bind for in-process callers)."""
    if browser_key is None:
        return
    session.add(SessionGuardRow(session_id=row.id, browser_key_sha256=digest(browser_key),
                                address_sha256=address_sha256, created_at=now))


def check_new_session_allowed(
    session: Session, test_id: int, settings: TestSettings, address_sha256: str | None, now: datetime | None = None
) -> None:
    """Refuse a new session beyond the test's caps.

    Raises:
        TooManySessionsError: the test took ``new_sessions_per_minute`` in the last minute, or
            this address started ``sessions_per_address_per_hour`` in the last hour.
    """
    now = now or utc_now()
    crowd = settings.crowd
    per_minute = crowd.new_sessions_per_minute if crowd else DEFAULT_NEW_SESSIONS_PER_MINUTE
    recent = session.scalar(
        select(func.count(SessionRow.id)).join(ParticipantRow)
        .where(ParticipantRow.test_id == test_id, SessionRow.created_at >= now - timedelta(minutes=1))
    )
    if per_minute and recent >= per_minute:
        raise TooManySessionsError("Many people are starting this study right now. Please try again in a minute.")
    per_address = crowd.sessions_per_address_per_hour if crowd else None
    if per_address and address_sha256:
        from_address = session.scalar(
            select(func.count(SessionGuardRow.session_id))
            .join(SessionRow, SessionRow.id == SessionGuardRow.session_id).join(ParticipantRow)
            .where(ParticipantRow.test_id == test_id, SessionGuardRow.address_sha256 == address_sha256,
                   SessionGuardRow.created_at >= now - timedelta(hours=1))
        )
        if from_address >= per_address:
            raise TooManySessionsError(
                "This study was started several times from your network in the last hour. Please try again later, "
                "or contact the researcher.")
