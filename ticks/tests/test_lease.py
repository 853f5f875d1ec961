"""The renewed lease (``ticks.lease``) against the real Redis: one holder at a time, renewed
while held, expiring soon after its holder stops renewing, released only by its holder."""

import os
import socket
import time

import pytest

from ticks import lease as lease_module
from ticks.lease import Lease, holder, lease
from ticks.live_store import KEYS


@pytest.fixture
def name(live_redis):
    return "test-lease"


def test_a_second_holder_is_refused_while_the_first_renews_past_its_ttl(name, live_redis):
    with lease(name, ttl_ms=300) as first:
        assert first.held
        for _ in range(6):  # 1.2 s: four TTLs, kept alive by the renewal thread
            time.sleep(0.2)
            with lease(name, ttl_ms=300) as second:
                assert not second.held
            assert live_redis.pttl(KEYS.lock(name)) > 0
        assert first.held and not first.lost
        assert holder(name) == first.token
    assert holder(name) is None  # released on exit
    with lease(name, ttl_ms=300) as third:
        assert third.held


def test_the_value_names_the_holder(name, live_redis):
    with lease(name) as held:
        host, pid, _ = holder(name).split(":")
        assert (host, int(pid)) == (socket.gethostname(), os.getpid())
        assert held.token == holder(name)


def test_a_holder_that_stops_renewing_loses_the_lease_within_its_ttl(name, live_redis):
    dead = Lease(name, ttl_ms=300)  # acquired, never renewed: a killed holder
    assert dead.acquire()
    assert not Lease(name, ttl_ms=300).acquire()
    time.sleep(0.35)
    assert holder(name) is None
    taker = Lease(name, ttl_ms=300)
    assert taker.acquire()
    # The old holder can neither renew nor release the new holder's lease.
    assert dead.renew() is False and dead.lost and not dead.held
    dead.held = True  # even if it still believed it held it
    dead.release()
    assert holder(name) == taker.token
    taker.release()
    assert holder(name) is None


def test_release_is_only_by_the_holder(name, live_redis):
    first = Lease(name)
    assert first.acquire()
    second = Lease(name)
    assert not second.acquire()
    second.release()  # not held: a no-op
    assert holder(name) == first.token
    first.release()
    assert holder(name) is None


def test_renewal_extends_to_a_full_ttl(name, live_redis):
    current = Lease(name, ttl_ms=1_000)
    assert current.acquire()
    time.sleep(0.5)
    assert live_redis.pttl(KEYS.lock(name)) <= 500
    assert current.renew() is True
    assert live_redis.pttl(KEYS.lock(name)) > 900
    current.release()


def test_a_lease_is_at_least_100_ms():
    with pytest.raises(ValueError):
        Lease("x", ttl_ms=50)


def test_the_renewal_thread_renews_only_what_is_held(name, live_redis, monkeypatch):
    renewed = []
    original = Lease.renew
    monkeypatch.setattr(
        lease_module.Lease, "renew", lambda self: renewed.append(self.name) or original(self)
    )
    with lease(name, ttl_ms=200):
        time.sleep(0.3)
    count = len(renewed)
    assert count >= 2
    time.sleep(0.3)
    assert len(renewed) == count  # released: no longer renewed
