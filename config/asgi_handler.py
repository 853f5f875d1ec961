"""Django's ASGI handler, with each request's synchronous code on a reused thread.

Django runs every HTTP request in its own ``ThreadSensitiveContext`` so that requests do not
queue behind one another's sync code, and asgiref gives each such context a new one-thread
executor: a thread started and joined per request (~0.6 ms of CPU per request on the bench
machine, a tenth of a minimal view's cost under daphne). asgiref 3.13 lets the caller own that
executor (``ThreadSensitiveContext(executor=...)``; the outer context wins and the executor is
not shut down on exit), so here a request borrows an idle one-thread executor and returns it.
A request still has a thread of its own while it runs: the concurrency is Django's.

Its event loop is also marked as a serving loop (``ticks.redis_store.mark_serving_loop``), on
which async views may use the shared asyncio Redis client.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

from ticks.redis_store import mark_serving_loop

IDLE_EXECUTORS_KEPT = 64  # beyond this many idle threads, a returned one is shut down


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _borrow(self) -> ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-request")

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < IDLE_EXECUTORS_KEPT:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            mark_serving_loop(loop)
            self._loop = loop
        executor = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await super().__call__(scope, receive, send)
        finally:
            self._give_back(executor)
