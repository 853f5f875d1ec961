"""``python -m bench rest --processes``'s baseline: a minimal FastAPI + psycopg service answering a
ticker's latest tick from PostgreSQL, served by uvicorn (``uvicorn bench.fastapi_quote:app
--workers N``). Bench-only: nothing in the product imports it.

What a small team would write for "the latest price of a ticker": one async endpoint, one
indexed query through psycopg's async connection pool, FastAPI's own JSON encoding. No
authentication, rate limits or envelope: the product's quote does all of that on top, so it is
the harder side of the comparison. The query looks the ticker's id up in a subquery, so that
each day partition is read backwards along its ``(ticker, time)`` key and the newest row is the
first one (0.3 ms); written as a join on the ticker table, PostgreSQL sorted the whole day of
the ticker's ticks instead (16 ms for 36,000 ticks), a slower baseline than a careful one.
"""

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from psycopg_pool import AsyncConnectionPool

LATEST_TICK_SQL = """
SELECT t."time", t.price, t.volume, t.bid, t.ask, t.seq
  FROM ticks_tick t
 WHERE t.ticker_id = (SELECT id FROM ticks_ticker WHERE symbol = %s)
 ORDER BY t."time" DESC
 LIMIT 1
"""

pool = AsyncConnectionPool(
    os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1),
    min_size=4,
    max_size=8,
    open=False,
)


@asynccontextmanager
async def lifespan(app):
    await pool.open(wait=True)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/quote/{symbol}")
async def quote(symbol: str) -> dict:
    async with pool.connection() as conn:
        cursor = await conn.execute(LATEST_TICK_SQL, (symbol.upper(),))
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"unknown ticker {symbol}")
    time, price, volume, bid, ask, seq = row
    return {
        "ticker": symbol.upper(),
        "time": time.isoformat(),
        "price": str(price),
        "volume": volume,
        "bid": str(bid),
        "ask": str(ask),
        "seq": seq,
    }


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
