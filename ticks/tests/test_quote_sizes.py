"""Quote sizes are a pure function of (seed, seq): same answer however the seqs are asked for."""

import numpy as np
import pytest

from ticks.engine import noise
from ticks.engine.sizes import MAX_LOTS, MEDIAN_LOTS, quote_sizes


def test_sizes_are_the_same_for_a_page_a_single_tick_and_scattered_seqs():
    seqs = np.arange(-3000, 3000)
    bid, ask = quote_sizes(7, seqs)
    for i in (0, 1, 2999, 3000, 5999):
        one_bid, one_ask = quote_sizes(7, int(seqs[i]))
        assert (int(one_bid), int(one_ask)) == (bid[i], ask[i])
    far = np.array([-3000, 2999, 10**12, -(10**12), 17])
    far_bid, far_ask = quote_sizes(7, far)
    assert far_bid[0] == bid[0] and far_ask[0] == ask[0]
    assert far_bid[1] == bid[-1] and far_ask[1] == ask[-1]
    assert far_bid[4] == bid[3017] and far_ask[4] == ask[3017]
    noise.cache_clear()
    again_bid, again_ask = quote_sizes(7, seqs)
    assert np.array_equal(again_bid, bid) and np.array_equal(again_ask, ask)


def test_sizes_are_round_lots_around_the_documented_median_and_differ_by_seed():
    bid, ask = quote_sizes(11, np.arange(200_000))
    assert bid.dtype == np.int64 and ask.dtype == np.int64
    assert bid.min() >= 1 and ask.min() >= 1 and max(bid.max(), ask.max()) <= MAX_LOTS
    assert np.median(bid) == MEDIAN_LOTS and np.median(ask) == MEDIAN_LOTS
    assert abs(np.corrcoef(bid, ask)[0, 1]) < 0.02  # bid and ask sizes are independent
    other_bid, _ = quote_sizes(12, np.arange(200_000))
    assert np.mean(other_bid != bid) > 0.5


def test_empty_and_shaped_inputs():
    bid, ask = quote_sizes(3, np.array([], dtype=np.int64))
    assert bid.shape == (0,) and ask.shape == (0,)
    bid, ask = quote_sizes(3, np.arange(6).reshape(2, 3))
    assert bid.shape == (2, 3)
    flat_bid, _ = quote_sizes(3, np.arange(6))
    assert np.array_equal(bid.reshape(-1), flat_bid)


def test_a_seed_out_of_range_is_refused():
    with pytest.raises(ValueError):
        quote_sizes(-1, [1])
