"""Inputs and state of the engine: market-wide settings, per-ticker parameters, per-ticker state."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .noise import sector_id

__all__ = ["EngineState", "MarketConfig", "TickerParams", "MAX_INTERVAL_MS", "MIN_INTERVAL_MS"]

MIN_INTERVAL_MS = 1
MAX_INTERVAL_MS = 60_000
_SEED_LIMIT = 2**63


def _finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class MarketConfig:
    """Market-wide settings (one per simulation; validated on construction)."""

    market_seed: int = 0
    market_correlation: float = 0.1
    sector_correlation: float = 0.2
    spread_bps: float = 5.0
    time_scale: float = 1.0
    base_volume: float = 100.0

    def __post_init__(self) -> None:
        seed = self.market_seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"market_seed must be an integer, got {seed!r}")
        if not 0 <= int(seed) < _SEED_LIMIT:
            raise ValueError(f"market_seed must be in [0, 2**63), got {seed}")
        object.__setattr__(self, "market_seed", int(seed))
        rho_m = _finite("market_correlation", self.market_correlation)
        rho_s = _finite("sector_correlation", self.sector_correlation)
        if rho_m < 0 or rho_s < 0:
            raise ValueError(
                f"correlations must be >= 0 (market_correlation={rho_m}, "
                f"sector_correlation={rho_s})"
            )
        if rho_m + rho_s > 1:
            raise ValueError(
                "market_correlation + sector_correlation must be <= 1 (it is the within-sector "
                f"correlation), got {rho_m} + {rho_s} = {rho_m + rho_s}"
            )
        spread = _finite("spread_bps", self.spread_bps)
        if spread < 0:
            raise ValueError(f"spread_bps must be >= 0, got {spread}")
        scale = _finite("time_scale", self.time_scale)
        if scale <= 0:
            raise ValueError(
                f"time_scale (simulated seconds per wall second) must be > 0, got {scale}"
            )
        base = _finite("base_volume", self.base_volume)
        if base <= 0:
            raise ValueError(f"base_volume must be > 0, got {base}")
        for name, value in (
            ("market_correlation", rho_m),
            ("sector_correlation", rho_s),
            ("spread_bps", spread),
            ("time_scale", scale),
            ("base_volume", base),
        ):
            object.__setattr__(self, name, value)

    @property
    def factor_loadings(self) -> tuple[float, float, float]:
        """(market, sector, idiosyncratic) weights of Z = a*M + b*S + c*E, with a²+b²+c² = 1."""
        rho_m, rho_s = self.market_correlation, self.sector_correlation
        return math.sqrt(rho_m), math.sqrt(rho_s), math.sqrt(max(0.0, 1.0 - rho_m - rho_s))


def _vector(name: str, value: Any, dtype: type) -> np.ndarray:
    try:
        arr = np.array(value, dtype=dtype)  # a private copy: callers cannot mutate it later
    except OverflowError:
        raise ValueError(f"{name} is out of the {np.dtype(dtype).name} range") from None
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of {np.dtype(dtype).name}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


def _int_vector(name: str, value: Any) -> np.ndarray:
    raw = np.asarray(value)
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or np.any(raw != np.floor(raw)):
            raise ValueError(f"{name} must hold integers")
    elif raw.size and raw.dtype.kind not in "iu":
        try:
            raw = np.array([int(v) for v in raw.ravel()], dtype=object).reshape(raw.shape)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold integers") from None
    return _vector(name, raw, np.int64)


@dataclass(frozen=True, eq=False)
class TickerParams:
    """Per-ticker parameters, as arrays of length N (one element per ticker).

    ``min_price`` of 0 or nan and ``max_price`` of inf or nan disable that bound.
    """

    seed: np.ndarray
    drift: np.ndarray
    volatility: np.ndarray
    interval_ms: np.ndarray
    min_price: np.ndarray
    max_price: np.ndarray
    sector: np.ndarray

    def __post_init__(self) -> None:
        for name in ("seed", "interval_ms", "sector"):
            object.__setattr__(self, name, _int_vector(name, getattr(self, name)))
        for name in ("drift", "volatility", "min_price", "max_price"):
            object.__setattr__(self, name, _vector(name, getattr(self, name), np.float64))
        n = len(self.seed)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(
                    f"all TickerParams arrays must have length {n}; {f.name} has "
                    f"{len(getattr(self, f.name))}"
                )
        if np.any(self.seed < 0):
            raise ValueError("seed must be in [0, 2**63)")
        if not np.all(np.isfinite(self.drift)):
            raise ValueError("drift must be finite")
        if not np.all(np.isfinite(self.volatility)) or np.any(self.volatility < 0):
            raise ValueError("volatility must be finite and >= 0")
        bad = (self.interval_ms < MIN_INTERVAL_MS) | (self.interval_ms > MAX_INTERVAL_MS)
        if np.any(bad):
            raise ValueError(
                f"interval_ms must be in [{MIN_INTERVAL_MS}, {MAX_INTERVAL_MS}], got "
                f"{self.interval_ms[bad][0]}"
            )
        lo, hi = self.min_price, self.max_price
        if np.any(lo < 0) or np.any(lo == np.inf):
            raise ValueError("min_price must be >= 0 and finite (0 or nan: no lower bound)")
        if np.any(hi <= 0) or np.any(hi == -np.inf):
            raise ValueError("max_price must be > 0 (inf or nan: no upper bound)")
        both = np.isfinite(hi) & (lo > 0)
        if np.any(hi[np.isfinite(hi)] < 0.02):
            raise ValueError("max_price must be at least 0.02 (prices are at least 2 cents)")
        lo_c, hi_c = np.ceil(lo[both] * 100 - 1e-6), np.floor(hi[both] * 100 + 1e-6)
        if np.any(lo[both] >= hi[both]) or np.any(lo_c > hi_c):
            raise ValueError("min_price must be below max_price, with at least one cent between")

    def __len__(self) -> int:
        return len(self.seed)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> TickerParams:
        """Build from dicts with keys seed, drift, volatility, interval_ms (or tick_interval_ms),
        min_price, max_price (None / missing: no bound) and sector (a name or an int id).
        Decimal values are accepted."""
        rows = list(rows)

        def col(key: str, default: Any = None, alt: str | None = None) -> list:
            out = []
            for i, row in enumerate(rows):
                if key in row:
                    out.append(row[key])
                elif alt is not None and alt in row:
                    out.append(row[alt])
                elif default is not None:
                    out.append(default)
                else:
                    raise ValueError(f"row {i} has no {key!r}")
            return out

        def price(values: list, missing: float) -> list[float]:
            return [missing if v is None else float(v) for v in values]

        sectors = [sector_id(s) if isinstance(s, str) else int(s) for s in col("sector", 0)]
        return cls(
            seed=col("seed"),
            drift=[float(v) for v in col("drift")],
            volatility=[float(v) for v in col("volatility")],
            interval_ms=col("interval_ms", 100, alt="tick_interval_ms"),
            min_price=price(col("min_price", float("nan")), float("nan")),
            max_price=price(col("max_price", float("nan")), float("nan")),
            sector=np.array(sectors, dtype=np.int64),
        )

    def take(self, index: Any) -> TickerParams:
        """The parameters of a subset of tickers (an index array or a boolean mask)."""
        return TickerParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(eq=False)
class EngineState:
    """Per-ticker state AT the last generated tick (or the earliest one, when rewinding).

    ``log_price`` is the UNREFLECTED log price x (the bounds are applied to outputs only), so the
    state never depends on the bounds and stays valid if they are changed.
    """

    seq: np.ndarray
    time_ms: np.ndarray
    log_price: np.ndarray

    def __post_init__(self) -> None:
        self.seq = np.array(self.seq, dtype=np.int64).reshape(-1)
        self.time_ms = np.array(self.time_ms, dtype=np.int64).reshape(-1)
        self.log_price = np.array(self.log_price, dtype=np.float64).reshape(-1)
        if not len(self.seq) == len(self.time_ms) == len(self.log_price):
            raise ValueError("EngineState arrays must have the same length")
        if not np.all(np.isfinite(self.log_price)):
            raise ValueError("log_price must be finite")

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def initial(cls, *, start_price: Any, anchor_time_ms: Any, seq: Any = 0) -> EngineState:
        """A virtual tick at ``anchor_time_ms`` with price ``start_price`` and sequence ``seq``.

        Scalars broadcast against arrays. The first generated tick follows it on the ticker's grid
        (seq + 1); history rewound from it ends just before it (seq - 1). Put the anchor on the
        grid (a multiple of the interval) unless there is a reason not to.
        """
        price = np.asarray([float(p) for p in np.ravel(start_price)], dtype=np.float64)
        if np.ndim(start_price) == 0:
            price = price.reshape(())
        if not np.all(np.isfinite(price)) or np.any(price <= 0):
            raise ValueError("start_price must be finite and > 0")
        price, time_ms, seqs = np.broadcast_arrays(
            price, np.asarray(anchor_time_ms, dtype=np.int64), np.asarray(seq, dtype=np.int64)
        )
        return cls(
            seq=seqs.reshape(-1), time_ms=time_ms.reshape(-1), log_price=np.log(price).reshape(-1)
        )

    def copy(self) -> EngineState:
        return EngineState(self.seq.copy(), self.time_ms.copy(), self.log_price.copy())

    def take(self, index: Any) -> EngineState:
        return EngineState(self.seq[index], self.time_ms[index], self.log_price[index])

    def to_dict(self) -> dict[str, list]:
        """JSON-ready dict; floats as ``float.hex`` so that ``from_dict`` restores them exactly."""
        return {
            "seq": [int(v) for v in self.seq],
            "time_ms": [int(v) for v in self.time_ms],
            "log_price": [float(v).hex() for v in self.log_price],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        def parse(v: Any) -> float:
            return float.fromhex(v) if isinstance(v, str) else float(v)

        return cls(
            seq=np.array([int(v) for v in data["seq"]], dtype=np.int64),
            time_ms=np.array([int(v) for v in data["time_ms"]], dtype=np.int64),
            log_price=np.array([parse(v) for v in data["log_price"]], dtype=np.float64),
        )
