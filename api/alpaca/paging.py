"""``page_token``/``next_page_token``: opaque to clients, a cursor to us.

A token is the URL-safe base64 (unpadded) of ``[symbol, epoch ms]``: the last row of the page
it follows (``ticks.alpaca_reads``' keyset cursor). A token that does not decode to that, or
names a symbol the request does not ask for, is a 400.
"""

import base64
import binascii

import orjson

from .errors import bad_request

MAX_TOKEN_LENGTH = 200


def encode_token(cursor: tuple[str, int] | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(list(cursor))).rstrip(b"=").decode()


def decode_token(token: str | None, symbols: set[str]) -> tuple[str, int] | None:
    if token is None or token == "":
        return None
    try:
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise ValueError
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        symbol, ms = orjson.loads(raw)
        if not isinstance(symbol, str) or type(ms) is not int or symbol not in symbols:
            raise ValueError
        if not -(2**53) < ms < 2**53:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise bad_request(
            "invalid page_token: pass the next_page_token of the previous page"
        ) from None
    return symbol, ms
