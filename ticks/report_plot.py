"""The market report's figure: per ticker, the return histogram against a normal, the ACFs of r
and |r|, and the intraday volume profile. matplotlib (Agg) is imported here, lazily, by the
``market_report`` command only: no web or worker process ever loads it."""

import math

import numpy as np

from .market_report import MINUTE_MS, TickerReport
from .stylized_facts import acf

ACF_LAGS = np.arange(1, 241)


def write_plot(reports: list[TickerReport], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(
        len(reports), 3, figsize=(15, 3.6 * len(reports)), squeeze=False, constrained_layout=True
    )
    for row, report in zip(axes, reports):
        series = report.series
        r = series.returns
        r = r[np.isfinite(r)]
        hist, acfs, profile = row
        sd = np.std(r)
        # bins no narrower than two cents of price (finer ones would show the cent grid), out
        # to 10 sd; moves beyond (jumps) are counted in the outermost bins and in the legend
        tick = np.min(np.abs(r[r != 0])) if np.any(r != 0) else sd
        width = max(sd / 8, 2 * tick)
        reach = 10 * sd
        edges = np.arange(-reach - width, reach + 2 * width, width)
        beyond = int(np.sum(np.abs(r) > reach))
        counts, _, _ = hist.hist(
            np.clip(r, edges[0], edges[-1]), bins=edges, density=True, alpha=0.6,
            label=f"1-minute log returns ({beyond} beyond ±10 sd)",
        )  # fmt: skip
        grid = np.linspace(edges[0], edges[-1], 800)
        hist.plot(grid, np.exp(-0.5 * (grid / sd) ** 2) / (sd * math.sqrt(2 * math.pi)), "k-",
                  label="normal, same sd")  # fmt: skip
        hist.set_yscale("log")
        hist.set_ylim(0.5 / (len(r) * width), 3 * counts.max())
        hist.set_xlabel("log return")
        hist.set_title(f"{report.symbol} ({report.model}): returns vs normal")
        hist.legend(fontsize=8)
        full = series.returns
        band = 3 / math.sqrt(len(r))
        acfs.plot(ACF_LAGS, acf(np.abs(full), ACF_LAGS), label="ACF of |r|")
        acfs.plot(ACF_LAGS, acf(full, ACF_LAGS), label="ACF of r", alpha=0.7)
        acfs.axhspan(-band, band, color="grey", alpha=0.2, label="±3/√N")
        acfs.set_xscale("log")
        acfs.set_xlabel("lag (minutes)")
        acfs.set_title("autocorrelation")
        acfs.legend(fontsize=8)
        minutes = (series.start_ms // MINUTE_MS + np.arange(len(series.volume))) % 1440
        ok = np.isfinite(series.volume)
        hours = minutes[ok] // 60
        mean = np.bincount(hours, weights=series.volume[ok], minlength=24) / np.maximum(
            np.bincount(hours, minlength=24), 1
        )
        profile.bar(np.arange(24), mean, width=0.8)
        profile.set_xlabel("hour of day (UTC)")
        profile.set_title("intraday volume profile (mean per minute bar)")
    fig.savefig(path, dpi=90)
    plt.close(fig)
