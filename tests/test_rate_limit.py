"""Back-off per address after wrong passwords (codecbench.app.rate_limit), on an injected clock."""

from __future__ import annotations

from codecbench.app.rate_limit import FailureBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_failures_are_free_then_each_one_doubles_the_wait_up_to_the_cap():
    clock = Clock()
    backoff = FailureBackoff(free_failures=2, base_delay_s=1.0, max_delay_s=8.0, clock=clock)
    waits = []
    for _ in range(7):
        assert backoff.retry_after("203.0.113.5") == 0.0  # waited out the previous back-off
        waits.append(backoff.record_failure("203.0.113.5")[1])
        clock.now += waits[-1]
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_an_address_waits_while_blocked_and_others_do_not():
    clock = Clock()
    backoff = FailureBackoff(free_failures=0, base_delay_s=4.0, clock=clock)
    backoff.record_failure("203.0.113.5")
    clock.now += 1.5
    assert backoff.retry_after("203.0.113.5") == 2.5
    assert backoff.retry_after("198.51.100.7") == 0.0


def test_a_success_or_an_hour_without_failures_forgets_an_address():
    clock = Clock()
    backoff = FailureBackoff(free_failures=0, base_delay_s=4.0, forget_after_s=3600.0, clock=clock)
    for _ in range(3):
        backoff.record_failure("a")
    backoff.record_success("a")
    assert backoff.record_failure("a") == (1, 4.0)  # counted from the start again

    for _ in range(3):
        backoff.record_failure("b")
    clock.now += 3601.0
    assert backoff.retry_after("b") == 0.0 and backoff.record_failure("b") == (1, 4.0)


def test_a_flood_of_addresses_keeps_memory_bounded_dropping_the_oldest():
    backoff = FailureBackoff(free_failures=0, max_keys=100, clock=Clock())
    for index in range(1000):
        backoff.record_failure(f"10.0.{index // 256}.{index % 256}")
    assert len(backoff._failures) == 100
    assert backoff.retry_after("10.0.3.231") > 0 and backoff.retry_after("10.0.0.0") == 0.0


def test_ipv6_addresses_of_one_64_network_count_together():
    clock = Clock()
    backoff = FailureBackoff(free_failures=0, base_delay_s=4.0, clock=clock)
    backoff.record_failure("2001:db8:1:2::1")
    assert backoff.retry_after("2001:db8:1:2:ffff:ffff:ffff:fffe") == 4.0  # same /64: also waits
    assert backoff.retry_after("2001:db8:1:3::1") == 0.0  # the neighbouring /64 does not
    backoff.record_failure("::ffff:198.51.100.7")
    assert backoff.retry_after("198.51.100.7") == 4.0  # an IPv4-mapped address is its IPv4 address


def test_a_surge_of_failures_from_many_addresses_leaves_each_new_one_a_single_guess():
    clock = Clock()
    backoff = FailureBackoff(free_failures=5, base_delay_s=1.0, surge_failures_per_hour=20, clock=clock)
    for index in range(20):  # 20 addresses, one failure each: all free
        assert backoff.record_failure(f"203.0.113.{index}") == (1, 0.0)
    assert backoff.record_failure("198.51.100.1") == (1, 1.0)  # the 21st failure within the hour: no free ones
    assert backoff.retry_after("198.51.100.2") == 0.0  # a fresh address (the admin) may still try at once
    clock.now += 3601.0
    assert backoff.record_failure("198.51.100.3") == (1, 0.0)  # an hour later the surge is over
