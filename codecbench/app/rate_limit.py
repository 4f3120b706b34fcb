"""Back-off after failed attempts, per client address (the Admin page's password).

A few wrong passwords are free (people mistype); after that each failure doubles the time the
address must wait before its next attempt, up to a cap. While an address waits, every attempt
is refused without looking at the password, so guessing costs the attacker time however fast it
sends requests. A success forgets the address's failures.

Addresses cost an attacker little: IPv6 addresses are grouped by their /64 network (what one
subscriber gets), and when more than ``surge_failures_per_hour`` failures arrive from all
addresses together, nobody gets free failures any more: each new address has one guess before
its back-off starts. The admin, coming fresh, still gets in at the first try.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    blocked_until: float
    last_failure: float


class FailureBackoff:
    """Exponential back-off per key (a client address) after failed attempts.

    Args:
        free_failures: failures allowed before any wait.
        base_delay_s: the wait after the first failure beyond the free ones; each further
            failure doubles it.
        max_delay_s: the longest wait.
        forget_after_s: failures older than this (since an address's last one) are forgotten.
        max_keys: addresses remembered at most; the least recently failing are dropped first,
            so a flood of addresses cannot exhaust memory.
        surge_failures_per_hour: failures from all addresses together within an hour beyond
            which no address gets free failures.
        clock: seconds, monotonic (injected in tests).
    """

    def __init__(self, *, free_failures: int = 5, base_delay_s: float = 1.0, max_delay_s: float = 300.0,
                 forget_after_s: float = 3600.0, max_keys: int = 10_000, surge_failures_per_hour: int = 200,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures = free_failures
        self.surge_failures_per_hour = surge_failures_per_hour
        self._recent: deque[float] = deque()
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds ``key`` must still wait before its next attempt (0: it may try now)."""
        key = address_group(key)
        with self._lock:
            failures = self._current(key)
            return 0.0 if failures is None else max(0.0, failures.blocked_until - self.clock())

    def record_failure(self, key: str) -> tuple[int, float]:
        """Count a failed attempt; return the key's failures so far and the wait it now has."""
        key = address_group(key)
        with self._lock:
            now = self.clock()
            failures = self._current(key) or _Failures(0, now, now)
            failures.count += 1
            failures.last_failure = now
            beyond = failures.count - (0 if self._under_attack(now) else self.free_failures)
            delay = 0.0 if beyond <= 0 else min(self.max_delay_s, self.base_delay_s * 2.0 ** min(beyond - 1, 64))
            failures.blocked_until = now + delay
            self._failures[key] = failures
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
            return failures.count, delay

    def record_success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(address_group(key), None)

    def _under_attack(self, now: float) -> bool:
        """Count this failure among all addresses' and say whether the hour's total is beyond the surge."""
        self._recent.append(now)
        while self._recent and now - self._recent[0] > 3600.0:
            self._recent.popleft()
        while len(self._recent) > self.surge_failures_per_hour + 1:  # the count is all that matters
            self._recent.popleft()
        return len(self._recent) > self.surge_failures_per_hour

    def _current(self, key: str) -> _Failures | None:
        failures = self._failures.get(key)
        if failures is not None and self.clock() - failures.last_failure > self.forget_after_s:
            del self._failures[key]
            return None
        return failures


def address_group(address: str) -> str:
    """The key an address's failures count under: an IPv6 address's /64 network, else the address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
