"""HTTP load for ``python -m bench rest``: sequential latencies and concurrent throughput over
keep-alive connections (aiohttp), and the server's CPU time."""

import asyncio
import os
import time

from .common import free_port  # noqa: F401  (re-exported for the benchmarks)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def latencies(base: str, paths: dict[str, str], samples: int) -> dict[str, tuple]:
    import aiohttp

    results = {}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(base, connector=connector) as session:
        for label, path in paths.items():
            times, size = [], 0
            for i in range(samples + 10):
                started = time.perf_counter()
                async with session.get(path) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
                if i >= 10:  # the first ten warm up
                    times.append((time.perf_counter() - started) * 1000)
                size = len(body)
            results[label] = (percentile(times, 50), percentile(times, 99), size)
            print(f"  {label:<34} p50 {results[label][0]:7.2f} ms  p99 {results[label][1]:7.2f} ms")
    return results


async def throughput(base: str, path: str, *, concurrency: int, seconds: float) -> tuple:
    import aiohttp

    done = errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def worker(deadline):
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.get(path) as response:
                    await response.read()
                    if response.status == 200:
                        done += 1
                    else:
                        errors += 1

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        done = errors = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, errors


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answers(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
