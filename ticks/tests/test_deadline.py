"""``read_within``: a read that finishes before its completion callback is attached."""

import threading
import time

from ticks import deadline


def test_a_read_done_before_its_callback_is_attached_does_not_deadlock(monkeypatch):
    submitted = threading.Event()
    real_pool = deadline._pool

    class Instant:
        """Runs the read at once, so the future is done when ``add_done_callback`` runs."""

        def submit(self, fn, *args):
            future = real_pool().submit(fn, *args)
            future.result()
            submitted.set()
            return future

    monkeypatch.setattr(deadline, "_pool", lambda: Instant())
    answer = []
    worker = threading.Thread(
        target=lambda: answer.append(deadline.read_within(lambda: 42, key="instant", timeout=1)),
        daemon=True,
    )
    started = time.monotonic()
    worker.start()
    worker.join(timeout=5)
    assert submitted.is_set() and answer == [42] and time.monotonic() - started < 5
    assert "instant" not in deadline._inflight
