"""A cheap HTTP/1.1 load generator for req/s figures on a small machine: keep-alive connections
written on raw asyncio protocols, spread over load-generator processes.

aiohttp spends more CPU per request than the servers measured here: on 2 cores its process
became the bottleneck once two server processes shared them. These clients send one fixed
request per connection at a time, read the status line and ``Content-Length`` (or the chunks)
of each answer and count it; nothing else is parsed. Every answer must be a 200 (others are
counted as errors).
"""

import asyncio
import multiprocessing
import time


class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, stats: dict, done: asyncio.Future) -> None:
        self.request, self.stats, self.done = request, stats, done
        self.buf = bytearray()
        self.transport = None
        self.stop_at = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.stats["lost"] += 1
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            length = _content_length(head)
            if length is not None:
                total = end + 4 + length
                if len(buf) < total:
                    return
            else:  # chunked
                total = _chunked_end(buf, end + 4)
                if total is None:
                    return
            ok = head.startswith((b"http/1.1 200", b"http/1.0 200"))
            del buf[:total]
            self.stats["ok" if ok else "errors"] += 1
            if time.perf_counter() >= self.stop_at:
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.transport.write(self.request)


def _content_length(head: bytes) -> int | None:
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return None
    line_end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : line_end if line_end > 0 else None].strip())


def _chunked_end(buf: bytearray, start: int) -> int | None:
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        pos = line_end + 2 + size + 2
        if len(buf) < pos:
            return None
        if size == 0:
            return pos


async def _run(port: int, path: str, connections: int, warmup: float, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    stats = {"ok": 0, "errors": 0, "lost": 0}
    clients = []
    for phase, length in (("warm", warmup), ("measured", seconds)):
        stop_at = time.perf_counter() + length
        if phase == "measured":
            stats.update(ok=0, errors=0, lost=0)
        futures = []
        if not clients:
            for _ in range(connections):
                done = loop.create_future()
                _, proto = await loop.create_connection(
                    lambda d=done: _Client(request, stats, d), "127.0.0.1", port
                )
                proto.stop_at = stop_at
                clients.append(proto)
                futures.append(done)
        else:
            for proto in clients:
                proto.done = loop.create_future()
                proto.stop_at = stop_at
                proto.transport.write(request)
                futures.append(proto.done)
        started = time.perf_counter()
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    for proto in clients:
        proto.transport.close()
    return {**stats, "seconds": elapsed}


def _main(port: int, path: str, connections: int, warmup: float, seconds: float, pipe) -> None:
    pipe.send(asyncio.run(_run(port, path, connections, warmup, seconds)))


def throughput(
    port: int, path: str, *, connections: int = 32, seconds: float = 4.0, procs: int = 2
) -> tuple[float, int]:
    """``(requests/s, errors)`` of ``GET path`` on 127.0.0.1:``port``: ``connections`` keep-alive
    connections over ``procs`` processes, 1 s of warm-up, then ``seconds`` measured."""
    ctx = multiprocessing.get_context("spawn")
    shares = [connections // procs + (i < connections % procs) for i in range(procs)]
    pipes, workers = [], []
    for share in shares:
        parent, child = ctx.Pipe()
        worker = ctx.Process(target=_main, args=(port, path, share, 1.0, seconds, child))
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    reports = [pipe.recv() for pipe in pipes]
    for worker in workers:
        worker.join(10)
    rate = sum(r["ok"] / r["seconds"] for r in reports)
    errors = sum(r["errors"] + r["lost"] for r in reports)
    return rate, errors
