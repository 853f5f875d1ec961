"""Inputs and state of the engine: market-wide settings, per-ticker parameters, per-ticker state."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .noise import sector_id
from .sessions import (
    DEFAULT_EXTENDED_ACTIVITY,
    DEFAULT_INTRADAY_AMPLITUDE,
    DEFAULT_INTRADAY_WIDTH,
    DEFAULT_OVERNIGHT_SHARE,
)
from .stochastic import (
    DEFAULT_HALF_LIVES_S,
    DEFAULT_LEVERAGE,
    DEFAULT_VOL_OF_VOL,
    MODELS,
    N_COMPONENTS,
)

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
    """Market-wide settings (one per simulation; validated on construction).

    The last four shape trading sessions (tickers on an exchange calendar only; see the package
    docstring, "Sessions"): ``overnight_share`` of a session's variance is its opening gap
    (0 <= q < 1); the regular session's U-shaped profile has amplitude ``intraday_amplitude``
    (>= 0; 0: flat) and width ``intraday_width`` (a fraction of the session, > 0); pre- and
    post-market periods trade at ``extended_activity`` (> 0) times the regular average.
    """

    market_seed: int = 0
    market_correlation: float = 0.1
    sector_correlation: float = 0.2
    spread_bps: float = 5.0
    time_scale: float = 1.0
    base_volume: float = 100.0
    overnight_share: float = DEFAULT_OVERNIGHT_SHARE
    intraday_amplitude: float = DEFAULT_INTRADAY_AMPLITUDE
    intraday_width: float = DEFAULT_INTRADAY_WIDTH
    extended_activity: float = DEFAULT_EXTENDED_ACTIVITY

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
        share = _finite("overnight_share", self.overnight_share)
        if not 0 <= share < 1:
            raise ValueError(f"overnight_share must be in [0, 1), got {share}")
        amplitude = _finite("intraday_amplitude", self.intraday_amplitude)
        if amplitude < 0:
            raise ValueError(f"intraday_amplitude must be >= 0, got {amplitude}")
        width = _finite("intraday_width", self.intraday_width)
        if not 0 < width <= 10:
            raise ValueError(f"intraday_width must be in (0, 10], got {width}")
        activity = _finite("extended_activity", self.extended_activity)
        if not 0 < activity <= 10:
            raise ValueError(f"extended_activity must be in (0, 10], got {activity}")
        for name, value in (
            ("market_correlation", rho_m),
            ("sector_correlation", rho_s),
            ("spread_bps", spread),
            ("time_scale", scale),
            ("base_volume", base),
            ("overnight_share", share),
            ("intraday_amplitude", amplitude),
            ("intraday_width", width),
            ("extended_activity", activity),
        ):
            object.__setattr__(self, name, value)

    def session_clock(self, sessions):
        """The business clock of a ``SessionSchedule`` with this market's profile."""
        return sessions.clock(
            self.overnight_share,
            self.intraday_amplitude,
            self.intraday_width,
            self.extended_activity,
        )

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


def _model_index(value: Any) -> int:
    if isinstance(value, str):
        if value.strip().lower() not in MODELS:
            raise ValueError(f"volatility_model must be one of {', '.join(MODELS)}, got {value!r}")
        return MODELS.index(value.strip().lower())
    return int(value)


_OPTIONAL_DEFAULTS = {
    "vol_of_vol": DEFAULT_VOL_OF_VOL,
    "leverage": DEFAULT_LEVERAGE,
    "jump_rate": 0.0,
    "jump_mean": 0.0,
    "jump_spread": 0.0,
}


@dataclass(frozen=True, eq=False)
class TickerParams:
    """Per-ticker parameters, as arrays of length N (one element per ticker).

    ``min_price`` of 0 or nan and ``max_price`` of inf or nan disable that bound. The volatility
    model and jump parameters are optional (default: ``constant`` volatility, no jumps):
    ``vol_model`` 0 (constant) or 1 (stochastic); ``vol_of_vol``, the sd of the stationary log
    volatility; ``vol_half_lives``, (N, 2) half-lives of its components in simulated seconds;
    ``leverage`` in [-1, 1]; ``jump_rate`` per year (>= 0), ``jump_mean`` and ``jump_spread``
    (>= 0) of the log jump size.
    """

    seed: np.ndarray
    drift: np.ndarray
    volatility: np.ndarray
    interval_ms: np.ndarray
    min_price: np.ndarray
    max_price: np.ndarray
    sector: np.ndarray
    vol_model: np.ndarray | None = None
    vol_of_vol: np.ndarray | None = None
    vol_half_lives: np.ndarray | None = None
    leverage: np.ndarray | None = None
    jump_rate: np.ndarray | None = None
    jump_mean: np.ndarray | None = None
    jump_spread: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("seed", "interval_ms", "sector"):
            object.__setattr__(self, name, _int_vector(name, getattr(self, name)))
        for name in ("drift", "volatility", "min_price", "max_price"):
            object.__setattr__(self, name, _vector(name, getattr(self, name), np.float64))
        n = len(self.seed)
        self._init_extensions(n)
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
        self._check_extensions()

    def _init_extensions(self, n: int) -> None:
        model = self.vol_model
        model = np.zeros(n, dtype=np.int64) if model is None else _int_vector("vol_model", model)
        object.__setattr__(self, "vol_model", model.astype(np.int8))
        self.vol_model.flags.writeable = False
        for name, default in _OPTIONAL_DEFAULTS.items():
            value = getattr(self, name)
            value = np.full(n, default) if value is None else value
            object.__setattr__(self, name, _vector(name, value, np.float64))
        hl = self.vol_half_lives
        if hl is None:
            hl = np.tile(np.array(DEFAULT_HALF_LIVES_S), (n, 1))
        try:
            hl = np.array(hl, dtype=np.float64).reshape(n, N_COMPONENTS)
        except (TypeError, ValueError):
            raise ValueError(
                f"vol_half_lives must be {N_COMPONENTS} numbers per ticker (shape (N, "
                f"{N_COMPONENTS}))"
            ) from None
        hl.flags.writeable = False
        object.__setattr__(self, "vol_half_lives", hl)

    def _check_extensions(self) -> None:
        if np.any((self.vol_model < 0) | (self.vol_model >= len(MODELS))):
            raise ValueError(f"vol_model must be in [0, {len(MODELS) - 1}] ({', '.join(MODELS)})")
        vv = self.vol_of_vol
        if not np.all(np.isfinite(vv)) or np.any(vv < 0) or np.any(vv > 3):
            raise ValueError("vol_of_vol must be in [0, 3]")
        hl = self.vol_half_lives
        if not np.all(np.isfinite(hl)) or np.any(hl <= 0):
            raise ValueError("vol_half_lives must be finite and > 0 (simulated seconds)")
        lev = self.leverage
        if not np.all(np.isfinite(lev)) or np.any(np.abs(lev) > 1):
            raise ValueError("leverage must be in [-1, 1]")
        if not np.all(np.isfinite(self.jump_rate)) or np.any(self.jump_rate < 0):
            raise ValueError("jump_rate must be finite and >= 0 (jumps per year)")
        if not np.all(np.isfinite(self.jump_mean)):
            raise ValueError("jump_mean must be finite")
        sp = self.jump_spread
        if not np.all(np.isfinite(sp)) or np.any(sp < 0):
            raise ValueError("jump_spread must be finite and >= 0")

    @property
    def extended(self) -> np.ndarray:
        """Tickers that are not plain GBM: stochastic volatility or jumps (bool, per ticker)."""
        return (self.vol_model != 0) | (self.jump_rate > 0)

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
        optional = {
            name: [float(v) for v in col(name, default)]
            for name, default in _OPTIONAL_DEFAULTS.items()
        }
        return cls(
            seed=col("seed"),
            drift=[float(v) for v in col("drift")],
            volatility=[float(v) for v in col("volatility")],
            interval_ms=col("interval_ms", 100, alt="tick_interval_ms"),
            min_price=price(col("min_price", float("nan")), float("nan")),
            max_price=price(col("max_price", float("nan")), float("nan")),
            sector=np.array(sectors, dtype=np.int64),
            vol_model=[_model_index(v) for v in col("volatility_model", "constant")],
            vol_half_lives=[
                [float(h) for h in v] for v in col("vol_half_lives", DEFAULT_HALF_LIVES_S)
            ],
            **optional,
        )

    def take(self, index: Any) -> TickerParams:
        """The parameters of a subset of tickers (an index array or a boolean mask)."""
        return TickerParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def component_sd(self) -> np.ndarray:
        """Stationary sd of each log-volatility component (the variance split equally)."""
        return self.vol_of_vol / np.sqrt(N_COMPONENTS)


@dataclass(eq=False)
class EngineState:
    """Per-ticker state AT the last generated tick (or the earliest one, when rewinding).

    ``log_price`` is the UNREFLECTED log price x (the bounds are applied to outputs only), so the
    state never depends on the bounds and stays valid if they are changed. ``vol`` (N, 2) holds
    the log-volatility components of ``stochastic`` tickers at that tick; NaN means unknown (a
    new ticker, a model switch, a state rebuilt from a stored price): the engine then starts from
    a stationary draw keyed by (seed, seq), the same every time. Constant tickers carry it
    unchanged.
    """

    seq: np.ndarray
    time_ms: np.ndarray
    log_price: np.ndarray
    vol: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.seq = np.array(self.seq, dtype=np.int64).reshape(-1)
        self.time_ms = np.array(self.time_ms, dtype=np.int64).reshape(-1)
        self.log_price = np.array(self.log_price, dtype=np.float64).reshape(-1)
        if not len(self.seq) == len(self.time_ms) == len(self.log_price):
            raise ValueError("EngineState arrays must have the same length")
        if not np.all(np.isfinite(self.log_price)):
            raise ValueError("log_price must be finite")
        n = len(self.seq)
        if self.vol is None:
            self.vol = np.full((n, N_COMPONENTS), np.nan)
        else:
            vol = np.array(self.vol, dtype=np.float64)
            if vol.size != n * N_COMPONENTS:
                raise ValueError(f"vol must hold {N_COMPONENTS} numbers per ticker")
            self.vol = vol.reshape(n, N_COMPONENTS)
            if np.any(np.isinf(self.vol)):
                raise ValueError("vol must be finite (or nan: unknown)")

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def initial(
        cls, *, start_price: Any, anchor_time_ms: Any, seq: Any = 0, vol: Any = None
    ) -> EngineState:
        """A virtual tick at ``anchor_time_ms`` with price ``start_price`` and sequence ``seq``.

        Scalars broadcast against arrays. The first generated tick follows it on the ticker's grid
        (seq + 1); history rewound from it ends just before it (seq - 1). Put the anchor on the
        grid (a multiple of the interval) unless there is a reason not to. ``vol``: the volatility
        components, default unknown (nan).
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
            seq=seqs.reshape(-1),
            time_ms=time_ms.reshape(-1),
            log_price=np.log(price).reshape(-1),
            vol=vol,
        )

    def copy(self) -> EngineState:
        return EngineState(
            self.seq.copy(), self.time_ms.copy(), self.log_price.copy(), self.vol.copy()
        )

    def take(self, index: Any) -> EngineState:
        return EngineState(
            self.seq[index], self.time_ms[index], self.log_price[index], self.vol[index]
        )

    def to_dict(self) -> dict[str, list]:
        """JSON-ready dict; floats as ``float.hex`` so that ``from_dict`` restores them exactly."""
        return {
            "seq": [int(v) for v in self.seq],
            "time_ms": [int(v) for v in self.time_ms],
            "log_price": [float(v).hex() for v in self.log_price],
            "vol": [[float(v).hex() for v in row] for row in self.vol.tolist()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        """The inverse of ``to_dict``; a dict without ``vol`` (saved before stochastic
        volatility existed) restores as unknown factors."""

        def parse(v: Any) -> float:
            return float.fromhex(v) if isinstance(v, str) else float(v)

        vol = data.get("vol")
        return cls(
            seq=np.array([int(v) for v in data["seq"]], dtype=np.int64),
            time_ms=np.array([int(v) for v in data["time_ms"]], dtype=np.int64),
            log_price=np.array([parse(v) for v in data["log_price"]], dtype=np.float64),
            vol=None if vol is None else [[parse(v) for v in row] for row in vol],
        )
