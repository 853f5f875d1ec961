"""ASGI middleware around Django's handler: each request's synchronous code on a reused thread,
and a hook for the event loop that serves requests.

Django runs every HTTP request in its own ``ThreadSensitiveContext`` so that requests do not
queue behind one another's sync code, and asgiref gives each such context a new one-thread
executor: a thread started and joined per request. asgiref 3.13 lets the caller own that
executor (``ThreadSensitiveContext(executor=...)``, public and documented: the context with the
executor is used even inside the one Django's handler opens, and the executor is not shut down
on exit), so ``ReusedRequestThreads`` opens such a context around Django's handler, with an idle
one-thread executor borrowed for the request and given back after it. A request still has a
thread of its own while it runs: the concurrency is Django's. Nothing of Django's handler is
overridden. Switch: ``FAST_HTTP_THREAD_REUSE`` (off: Django's handler as it is).

``OnServingLoop`` calls a hook (``config.asgi`` passes the one that lets async views use the
shared asyncio Redis client) with the event loop the first time a request arrives on it.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

IDLE_EXECUTORS_KEPT = 64  # beyond this many idle threads, a returned one is shut down


class ReusedRequestThreads:
    def __init__(self, app) -> None:
        self.app = app
        self._idle: list[ThreadPoolExecutor] = []

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
            return await self.app(scope, receive, send)  # Django's own refusal
        executor = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self._give_back(executor)


class OnServingLoop:
    def __init__(self, app, hook) -> None:
        self.app = app
        self.hook = hook
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.hook(loop)
            self._loop = loop
        return await self.app(scope, receive, send)
