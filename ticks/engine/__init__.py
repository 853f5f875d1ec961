"""Synthetic market engine: correlated Geometric Brownian Motion on a tick grid, in pure NumPy.

Nothing here imports Django: arrays in, arrays out. N tickers are stepped together, vectorized over
tickers and steps (Python loops only run over tickers or noise blocks, never over ticks).

Model
=====
Price path
    Each ticker carries x, its UNREFLECTED log price, in ``EngineState.log_price``. One step of
    length dt (years) is the exact log-normal GBM step::

        x_s = x_{s-1} + (mu - sigma^2/2) * dt + sigma * sqrt(dt) * Z_s

    with ``dt = elapsed_ms / 1000 * time_scale / (365 * 86400)``: ``time_scale`` is simulated
    seconds per wall second, and a 24/7 ticker trades around the clock, so its year is 365 days
    (a ticker on an exchange calendar runs on a business clock instead: "Sessions"). dt is the
    real time since the previous tick (the first step after an interval change, or after an
    off-grid anchor, is shorter or longer than the interval and still exact). The sum over steps is a cumulative
    sum SEEDED with the state's x (x0 + inc_1, + inc_2, ...), never added afterwards, so splitting
    a run into batches of any sizes gives bit-identical floats.

Volatility models (``TickerParams.vol_model``; jumps on top of either)
    ``constant`` (the default): the GBM step above, sigma fixed. It never goes through the code
    of the other models (tickers are grouped by model), so it is today's GBM bit for bit (a
    golden test pins it).

    ``stochastic``: sigma_t = sigma * exp(h_t - v), h_t = y_1 + y_2 the sum of two independent
    stationary Gaussian AR(1) components (exact discretizations of Ornstein-Uhlenbeck
    processes) with half-lives ``vol_half_lives`` in SIMULATED seconds (default 5 minutes and 2
    days) and stationary variance v/2 each, v = ``vol_of_vol``². Then E[sigma_t²] = sigma²:
    ``volatility`` keeps its meaning, the square root of the long-run mean instantaneous
    variance (jumps excluded). One step of dt from tick s-1 to s::

        x_s   = x_{s-1} + (mu - lambda kappa - sigma_{s-1}²/2) dt + sigma_{s-1} sqrt(dt) Z_s + J_s
        y_j,s = phi_j y_j,{s-1} + s_j eta_j,s,   phi_j = 2^(-dt_sim / half_life_j),
                                                 s_j = sqrt(v/2 (1 - phi_j²))

    The return of a step uses the volatility at its start (sigma_{s-1} is known before Z_s), so
    returns are uncorrelated however volatile. eta_j are the ticker's own volatility shocks
    (``noise.vol_stream(j)``, indexed by seq). Leverage: the ticker's own noise E_s is replaced
    by sqrt(1 - rho²) E_s + rho (eta_1,s + eta_2,s)/sqrt(2), rho = ``leverage`` (default -0.5),
    before the market and sector factors are added, so a down move raises the volatility of the
    next steps while the cross-ticker correlations keep their meaning (the correlation of the
    TOTAL return shock with the volatility shock is rho sqrt(1 - rho_m - rho_s)). The AR(1)s run
    as linear filters (``scipy.signal.lfilter`` with the state as initial condition: element n
    is x_n + phi y_{n-1} whatever the split, so batches are bit-identical). The state carries
    the components (``EngineState.vol``); an unknown state (NaN: a new ticker, a model switch, a
    state rebuilt from a stored price) starts from a stationary draw keyed by (seed, seq).

    Spread and volume follow the volatility: the half-spread uses sigma_s at the tick in place of
    sigma; the volume is multiplied by exp(h_{s-1} - v/2) (mean 1) and takes eta_1,s as its
    noise V (so it also rises a little with the volatility shock).

Jumps (``jumps`` module)
    Compound Poisson: ``jump_rate`` per year, log sizes N(``jump_mean``, ``jump_spread``²),
    off by default. Drawn per block of 1024 seqs (a Poisson count, uniform positions, normal
    sizes, all counter-based), which is exactly an independent Poisson(rate dt) number of jumps
    per tick at no per-tick cost; a tick's jump depends on its seq only. The drift is
    compensated (lambda kappa, kappa = exp(mean + spread²/2) - 1), so E[S_{t+dt}/S_t] =
    exp(drift dt) still. A step with N jumps has (1 + 4N) times its volume.

Bounds
    Prices stay in [min_price, max_price] by reflecting x in log space into
    [log(min_price), log(max_price)] (folding with period 2L, L = log(max/min); one-sided
    reflection when only one bound is set; ``min_price`` 0/nan and ``max_price`` inf/nan disable
    a bound). Nothing is clamped, so no probability mass piles up at a bound. The state keeps the
    unreflected x; the bounds act on outputs only. Reflection is exact for the driftless part
    (reflected Brownian motion is a Brownian motion reflected at the walls, with the uniform
    stationary law on a two-sided interval). With drift, the folded path keeps |drift| but the sign
    flips on each reflected segment: near a bound the effective drift is not the configured one
    (an upward drift is mirrored into a downward one after touching the upper bound), and in the
    long run a two-sided band is visited uniformly, whatever the drift. Only the rounding to the
    cent is kept inside the bounds (min 50.004 => lowest price 50.01).

Correlation
    Z_i = sqrt(rho_m) * M + sqrt(rho_s) * S_sector(i) + sqrt(1 - rho_m - rho_s) * E_i, so that
    log returns of two tickers correlate rho_m across sectors and rho_m + rho_s within one sector
    (defaults 0.1 and 0.2 -> 0.1 and 0.3). The market factor M and sector factors S are indexed by
    the grid point n = time_ms // interval_ms and keyed by interval_ms: only tickers that share
    an interval share factor draws. Tickers on different intervals are UNCORRELATED (their
    returns are independent). E_i is the ticker's own noise, indexed by its ``seq``.

Noise (``noise`` module)
    Counter-based: draw i of a stream is element i mod BLOCK of block floor(i / BLOCK), a block
    being ``Generator(Philox(key=[k0, k1], counter=[0, 0, 0, block as uint64])).standard_normal
    (BLOCK)``. k0 is the ticker's seed (idiosyncratic and volume streams) or the market seed
    (factors); k1 is a blake2b hash naming the purpose (idiosyncratic, volume, market factor on an
    interval, sector factor of a sector id on an interval). So every step's noise can be recomputed
    at any time, "advance by k" equals k steps, lost ticks are regenerated identically, and history
    before a ticker's first tick (negative seq) is drawn the same way. Blocks are cached (LRU).

Quotes (``quotes`` module), all int64 cents
    price = max(2, round(exp(reflected x) * 100)), kept within the bounds' cents. The exp
    argument is capped at 36 and the price at 1e17 cents ($1e15), so that cents never overflow
    int64 (only reachable with the bounds off at huge time scales; the returned ``log_price`` is
    not capped). Half-spread = max(1, round(price * bps_eff / 2 / 1e4)) with bps_eff =
    spread_bps * max(volatility, 0.01) / 0.2 (spread_bps is the full spread at 20% volatility),
    at most price - 1; bid = price - half, ask = price + half, so 1 <= bid < price < ask.
    Volume = max(1, round(base_volume * (0.5 + |Z|) * exp(V / 2))) with V the ticker's own volume
    noise (indexed by seq): larger when |return| is larger.

Grid
    Ticks of a ticker lie on its grid: the multiples of interval_ms since the epoch. ``advance``
    puts tick j (1-based) at the j-th grid point after the state's time, on the ticker's CURRENT
    interval, with seq = state.seq + j (seq never restarts, also across interval changes);
    ``steps_due`` counts the grid points in (state.time_ms, now_ms].

Backward (``rewind``)
    History before the earliest tick runs backwards: x_{s-1} = x_s - inc_s, with inc_s exactly the
    forward increment into seq s (same Z_s keyed by seq s and its grid index, same dt), at the grid
    points before the earliest tick (time_ms - iv, - 2 iv, ...; from an off-grid virtual anchor,
    the latest grid point before it, then every iv). Log returns being i.i.d., the reversed walk
    is a valid path and joins the existing ticks without a jump. Advancing k steps then rewinding
    k steps (or the reverse) gets back to the start up to float rounding (~1e-12 in x, equal
    cents). An off-grid virtual anchor's own increment shares its grid index, hence its factor
    draws (not its own noise), with the grid step before it: one step, once per ticker.

    Stochastic volatility is not time-reversible as a whole (running a path backwards flips the
    leverage: volatility would rise BEFORE down moves), so its history is not the forward
    recursion undone but a draw of the past given the present, with the same law as a forward
    path: each component is a stationary Gaussian AR(1), which IS time-reversible, so going back
    y_{s-1} = phi y_s + s xi_s (xi_s: the ticker's volatility shock number s) has the same law
    as going forward. The forward shock that this pair of factors implies,
    eta_s = (y_s - phi y_{s-1}) / s = (sqrt(1 - phi²) / sd) y_s - phi xi_s, is then a standard
    normal independent of y_{s-1}, exactly as forward, and the price shock of step s is built
    from it as forward (Z_s with the leverage, then the factors), with sigma_{s-1} before the
    step. So leverage runs forward in time in the history too, every backfilled statistic is the
    forward one, and the history joins the anchor's price and volatility state without a jump
    (it needs the factors at the anchor: ``EngineState.vol``; unknown ones start from the
    stationary draw). Rewinding from a state and advancing from the result do not retrace each
    other (for ``constant`` they do): each direction is a draw of its own side. Jumps belong to
    seqs, so they are the same in both directions.

Scenario events (``events`` module)
    Moves (a drift overlay f(T) - f(S) per step), gaps (a log jump at the first tick at or
    after a time), volatility spikes (the step's combined noise Z scaled, so the diffusion is
    k times) and halts (grid points skipped; the next tick spans the halt, seq consecutive),
    each a function of the ticker and of the step's times only: ``events.advance``/``rewind``/
    ``steps_due`` give the same ticks whatever the split and in both directions. Without events
    they are ``advance``/``rewind``/``steps_due`` themselves, and a group of tickers no event
    touches never runs their code (the golden test pins it).

Sessions (``sessions`` module; tickers on an exchange calendar only)
    A ``SessionSchedule`` gives a calendar ticker's open periods ``[start, end)``, each labelled
    with its session (trading day) and kind (regular, pre- or post-market; a lunch break is two
    regular periods of one session). Tickers without periods in it are 24/7: they go through
    none of this (groups of their own; a golden test pins them beside calendar tickers).

    Grid: ticks only at the grid points inside open periods. Closures are skipped like halts
    (merged with them): ``seq`` stays consecutive, the first tick after a closure is the first
    open grid point after it and its step spans the closure; ``steps_due`` counts open grid
    points only, so a catch-up across a closure generates nothing for it, and a backfill
    (``steps_back``, ``rewind``) writes open grid points only. Time outside the given periods is
    closed, also beyond the last one: callers give the periods of the whole range, with whole
    sessions at its edges.

    Business clock: a calendar ticker's ``drift`` and ``volatility`` are annual over 252
    SESSIONS (a session day's return, the opening gap included, has variance volatility²/252),
    beside the 24/7 convention of a 365-day year of calendar time. B(t), in years: each session
    contributes 1/252; a share q (``MarketConfig.overnight_share``, ``MARKET_OVERNIGHT_SHARE``,
    default 0.2) is one jump at the session's first open, the rest (1 - q)/252 accrues over the
    session's open periods following the intraday profile w, normalized to integrate to 1 over
    that session's open time (so an early close or extended hours redistribute a day's variance,
    never change it). A step from tick S to tick T is the GBM step above with
    ``dt = (B(T) - B(S)) * time_scale``: a step across several sessions (a halt over days) gets
    all of them, a step across a lunch break gets only the open time's share. The first tick of a
    session carries the whole overnight share whatever the closure's length, a weekend or a
    holiday included: real daily returns are about as variable after a weekend as after a night
    (the variance comes with trading and news flow, not with calendar time), and a fixed share
    keeps every session's variance exactly volatility²/252, so close-to-close returns have the
    configured annual volatility over 252 sessions.

    Intraday profile (``MarketConfig``: ``intraday_amplitude`` A = 2, ``intraday_width`` h =
    0.1, ``extended_activity`` L = 0.2): in regular periods w(tau) = (1 + A (e^(-tau/h) +
    e^(-(1 - tau)/h))) / c, tau the position in the session's regular time (breaks excluded) and
    c = 1 + 2 A h (1 - e^(-1/h)) so that w averages 1 over it; in pre- and post-market periods w
    = L. The first and last 30 minutes of a 6.5-hour day then carry about 2.3x the variance of
    12:00-14:00, extended hours a fifth of the regular average. Volume is multiplied by w at the
    tick (about 2.3x at the open and close, a fifth in extended hours), the spread by
    1/sqrt(L) in pre/post periods (fewer quotes, a wider spread). B is evaluated exactly (the
    profile's integral in closed form, written without cancellation), piecewise (sessions
    counted, then a position in a session), so a step's dt is a function of (S, T) alone:
    batches and directions stay bit-identical.

    Stochastic volatility's AR(1) components keep simulated WALL seconds (they decay across a
    closure by its real length); its sigma_t multiplies sqrt(dt) of the business clock. Jumps
    stay per tick (per seq, as above), their rate per year of 252 sessions of 6.5 hours of
    ticks (``SESSION_YEAR_MS``): a regular NYSE year has ``jump_rate`` jumps on average, extended
    hours add ticks and so jumps at the same rate per tick, and a closure has none of its own
    (the opening gap is Gaussian). The drift's jump compensation runs on the business clock, so
    E[S] grows at ``drift`` over a 252-session year.

    Scenario events are functions of a step's times, so they respect sessions naturally: a move
    or gap starting while closed takes effect at the next open (the step spanning the closure
    gets f(T) - f(S)), a volatility spike scales each step by the share of its real time inside
    the window (one starting while closed scales the opening step partly, the steps after the
    open fully); a halt is merged with the closures: one that ends while closed ends there
    (trading resumes at the next open), one that runs past the next open continues until its
    end (the first tick is then at its end, its step carrying the gap and the open's variance).

Cost
    Dominated by the normal draws (about 3 per tick for the seed tickers: E and V per tick, M and S
    per grid point); a call is vectorized over tickers and steps, tickers with very different
    step counts are grouped by powers of two, so a ragged request pads at most 2x. Split very large
    requests (say over 1e6 ticks) into chunks: the results are bit-identical.

Cost
    Stochastic volatility adds the ticker's two volatility shocks per tick (its volume noise is
    one of them) and two linear filters; jumps cost nothing per tick (``bench ingest`` measures
    both against plain GBM).

Cost
    Sessions: the business clock costs a search and three exponentials per tick (``bench
    sessions``: calendar tickers against 24/7 ones in the same run).

Public API: ``MarketConfig``, ``TickerParams``, ``EngineState``, ``TickBatch``, ``steps_due``,
``advance``, ``rewind``, ``sector_id``, ``reflect``, ``engine_throughput``, ``MODELS``,
``SessionSchedule`` (the calls with events and sessions: ``events.advance``/``rewind``/
``steps_due``/``steps_back``).
"""

from .bounds import log_bounds, reflect
from .gbm import YEAR_MS, advance, rewind, steps_due
from .noise import BLOCK, sector_id
from .params import EngineState, MarketConfig, TickerParams
from .quotes import TickBatch
from .sessions import SESSIONS_PER_YEAR, SessionSchedule
from .stochastic import MODELS, N_COMPONENTS

__all__ = [
    "BLOCK",
    "YEAR_MS",
    "EngineState",
    "MODELS",
    "N_COMPONENTS",
    "SESSIONS_PER_YEAR",
    "MarketConfig",
    "SessionSchedule",
    "TickBatch",
    "TickerParams",
    "advance",
    "engine_throughput",
    "log_bounds",
    "reflect",
    "rewind",
    "sector_id",
    "steps_due",
]


def engine_throughput(
    n_tickers: int = 5, steps: int = 864_000, chunk: int = 36_000, model: dict | None = None
) -> float:
    """Ticks per second of ``advance`` (see ``ticks.engine.speed``)."""
    from .speed import engine_throughput as run

    return run(n_tickers=n_tickers, steps=steps, chunk=chunk, model=model)
