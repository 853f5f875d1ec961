"""Playback readers for ``bench playback``: ``python -m bench.playback_client PORT N START END``
plays ``[START, END)`` (epoch ms) of every ticker at ``max`` on N ``/ws`` connections, again and
again, reading as fast as it can, until terminated; every second it writes the messages read so
far to stdout."""

import asyncio
import json
import sys
import time

import websockets


async def _reader(port: int, start: int, end: int, counts: list[int], i: int) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        await ws.recv()  # connected
        while True:
            request = {"type": "playback", "tickers": "*", "start": start, "end": end}
            await ws.send(json.dumps({**request, "speed": "max"}))
            while True:
                text = await ws.recv()
                counts[i] += 1
                if '"playback_done"' in text[:40] or '"error"' in text[:20]:
                    break


async def main(port: int, n: int, start: int, end: int) -> None:
    counts = [0] * n
    tasks = [asyncio.create_task(_reader(port, start, end, counts, i)) for i in range(n)]
    began = time.monotonic()
    while True:
        await asyncio.sleep(1)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()
        print(f"{time.monotonic() - began:.1f} {sum(counts)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*(int(a) for a in sys.argv[1:5])))
