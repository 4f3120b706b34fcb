"""The admin password, checked by every event that needs it, with back-off per address.

The Admin page and the Leaderboard page's evaluation panel share one :class:`AdminGate`, so
guesses through either count together.
"""

from __future__ import annotations

import hmac
import logging
import math

import gradio as gr

from codecbench.app.rate_limit import FailureBackoff

log = logging.getLogger(__name__)


class AdminAuthError(PermissionError):
    pass


def check_admin_password(given: str | None, configured: str | None) -> None:
    """Refuse unless ``given`` equals the configured password (compared in constant time).

    Raises:
        AdminAuthError: no password is configured, or ``given`` is wrong.
    """
    if not configured:
        raise AdminAuthError(
            "The Admin page is disabled: start the app with an admin password "
            "(CODECBENCH_ADMIN_PASSWORD=... codecbench app)."
        )
    if not given or not hmac.compare_digest(given.encode("utf-8"), configured.encode("utf-8")):
        raise AdminAuthError("Wrong or missing admin password.")


class AdminGate:
    """Checks the admin password of Gradio events; an address that keeps getting it wrong must
    wait longer and longer (:class:`FailureBackoff`) and is refused unheard meanwhile."""

    def __init__(self, password: str | None, backoff: FailureBackoff | None = None) -> None:
        self._password = password
        self.backoff = backoff or FailureBackoff()

    def authorize(self, given: str | None, request: gr.Request | None, what: str = "") -> None:
        """Return if ``given`` is the password; raise ``gr.Error`` (without a traceback in the
        log, with one warning line per failure) otherwise. ``what``: a sentence put before the
        refusal, saying what needed the password."""
        address = client_address(request)
        prefix = f"{what} " if what else ""
        wait_s = self.backoff.retry_after(address)
        if wait_s > 0:
            raise gr.Error(f"{prefix}Too many wrong admin passwords from your address: "
                           f"try again in {math.ceil(wait_s)} s.", print_exception=False)
        try:
            check_admin_password(given, self._password)
        except AdminAuthError as error:
            if self._password:
                failures, wait_s = self.backoff.record_failure(address)
                log.warning("wrong or missing admin password from %s (%d in a row; next try allowed in %.0f s)",
                            address, failures, wait_s)
            raise gr.Error(f"{prefix}{error}", print_exception=False) from None
        self.backoff.record_success(address)


def client_address(request: gr.Request | None) -> str:
    """The caller's address as the server saw it (uvicorn puts X-Forwarded-For there only for
    requests from a trusted proxy: the FORWARDED_ALLOW_IPS environment variable)."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"
