"""Binary ``COPY`` of ticks, with the whole buffer built by NumPy.

Every field has a fixed width, so a batch of ticks is one structured array whose bytes are the
COPY rows: no per-row Python. Prices are held as integer cents and sent as PostgreSQL
``numeric`` in a fixed 4-digit base-10000 layout (the server strips the zero digits on input):
``[int // 1e8, int // 1e4 % 1e4, int % 1e4, cents * 100]`` with weight 2 and scale 2, which
covers every ``numeric(12, 2)`` value.
"""

import struct

import numpy as np

from .backend import TICK_TABLE

COPY_COLUMNS = ("ticker_id", "time", "seq", "price", "bid", "ask", "volume")
COPY_SQL = f"COPY {TICK_TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)

# PostgreSQL's timestamp epoch is 2000-01-01; it counts microseconds.
PG_EPOCH_MS = 946_684_800_000
MAX_CENTS = 10**12 - 1  # numeric(12, 2)

_NUMERIC = [
    ("len", ">i4"),
    ("ndigits", ">i2"),
    ("weight", ">i2"),
    ("sign", ">i2"),
    ("dscale", ">i2"),
    ("digits", ">i2", (4,)),
]
_INT8 = [("len", ">i4"), ("value", ">i8")]
ROW_DTYPE = np.dtype(
    [
        ("nfields", ">i2"),
        ("ticker_id", _INT8),
        ("time", _INT8),
        ("seq", _INT8),
        ("price", _NUMERIC),
        ("bid", _NUMERIC),
        ("ask", _NUMERIC),
        ("volume", _INT8),
    ]
)


def _put_numeric(field: np.ndarray, cents: np.ndarray) -> None:
    if cents.size and (cents.min() < 0 or cents.max() > MAX_CENTS):
        raise ValueError("price outside numeric(12, 2)")
    field["len"] = 16
    field["ndigits"] = 4
    field["weight"] = 2
    field["sign"] = 0
    field["dscale"] = 2
    units = cents // 100
    digits = field["digits"]
    digits[:, 0] = units // 100_000_000
    digits[:, 1] = (units // 10_000) % 10_000
    digits[:, 2] = units % 10_000
    digits[:, 3] = (cents % 100) * 100


def _put_int8(field: np.ndarray, values: np.ndarray) -> None:
    field["len"] = 8
    field["value"] = values


def encode_rows(*, ticker_id, time_ms, seq, price_cents, bid_cents, ask_cents, volume) -> bytes:
    """COPY rows (no header or trailer) for equally long int64 arrays (``ticker_id`` may be a
    scalar)."""
    n = len(seq)
    rows = np.empty(n, dtype=ROW_DTYPE)
    rows["nfields"] = len(COPY_COLUMNS)
    _put_int8(rows["ticker_id"], ticker_id)
    _put_int8(rows["time"], (np.asarray(time_ms, dtype=np.int64) - PG_EPOCH_MS) * 1000)
    _put_int8(rows["seq"], seq)
    _put_numeric(rows["price"], np.asarray(price_cents, dtype=np.int64))
    _put_numeric(rows["bid"], np.asarray(bid_cents, dtype=np.int64))
    _put_numeric(rows["ask"], np.asarray(ask_cents, dtype=np.int64))
    _put_int8(rows["volume"], volume)
    return rows.tobytes()


def copy_rows(cursor, rows: bytes) -> None:
    """Send encoded rows through ``COPY ... FROM STDIN (FORMAT BINARY)`` on a psycopg cursor."""
    with cursor.copy(COPY_SQL) as copy:
        copy.write(HEADER)
        copy.write(rows)
        copy.write(TRAILER)
