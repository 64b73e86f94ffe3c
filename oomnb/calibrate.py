"""Parameters of the delay classes, fitted from real episodes.

One calibration serves the bounds (numbers for the symbols of
:mod:`oomnb.kernel.timing`), the simulator (laws to sample from) and the
conformance check (what a gap between two events may be).  Everything is
fitted from an episodes table (:func:`oomnb.trace.df_episodes`) of real
traces, per machine, with bootstrap intervals (seeded, so a rerun gives
the same numbers):

``t_slack``    how late the ``OOM_REAPER_DELAY`` timer fires:
               ``kill -> wake_reaper`` minus ``2*HZ`` jiffies
``t_attempt``  ``wake_reaper -> start_task_reaping`` (the reaper kthread
               is woken, pops the list and takes the mmap lock)
``B_reap``     the reaper's unmapping throughput in bytes/s: the slope of
               ``reap_duration`` against the victim's anonymous RSS
               (Theil-Sen, robust to a single large run), with its
               intercept ``reap_t0``
``B_exit``     ``exit_mmap``'s throughput, from victims that exited
               unhindered: ``exit_start -> free`` against anonymous RSS
``p_trylock``  the fraction of reap attempts whose trylock failed
               (``skip_task_reaping`` among all attempts) per scenario
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .kernel import timing

SEED = 20161007          # fixed: the numbers in notebooks and the bounds must not move
N_BOOT = 400
GIB = 2 ** 30


@dataclass(frozen=True)
class Param:
    name: str            # symbol name in oomnb.kernel.timing (or p_trylock)
    machine: str
    value: float
    lo: float            # 90 % bootstrap interval
    hi: float
    n: int
    unit: str
    method: str
    samples: tuple = ()  # the per-episode values the law resamples

    def as_row(self) -> dict:
        return {"parameter": self.name, "machine": self.machine, "value": self.value,
                "lo": self.lo, "hi": self.hi, "n": self.n, "unit": self.unit,
                "method": self.method}


def theil_sen(x, y) -> tuple[float, float]:
    """Median of pairwise slopes and the median intercept (Theil-Sen)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return float("nan"), float(np.median(y)) if len(y) else float("nan")
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok]))
    return slope, float(np.median(y - slope * x))


def _boot(values, stat, rng) -> tuple[float, float]:
    values = list(values)
    if len(values) < 2:
        return float("nan"), float("nan")
    idx = rng.integers(0, len(values), size=(N_BOOT, len(values)))
    arr = np.array(values, dtype=object)
    stats = []
    for row in idx:
        try:
            stats.append(stat(list(arr[row])))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
    stats = np.array([s for s in stats if np.isfinite(s)], float)
    if not len(stats):
        return float("nan"), float("nan")
    return float(np.quantile(stats, 0.05)), float(np.quantile(stats, 0.95))


def _throughput(pairs) -> float:
    """Bytes/s from [(bytes, seconds)]: 1 / Theil-Sen slope (s per byte)."""
    b = [p[0] for p in pairs]
    s = [p[1] for p in pairs]
    slope, _ = theil_sen(b, s)
    return 1.0 / slope if slope and slope > 0 else float("nan")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


@dataclass
class Calibration:
    params: list = field(default_factory=list)
    reaper_delay_s: float = 2.0

    def df(self) -> pd.DataFrame:
        return pd.DataFrame([p.as_row() for p in self.params],
                            columns=["parameter", "machine", "value", "lo", "hi", "n", "unit",
                                     "method"])

    def get(self, name: str, machine: str = "all") -> Param | None:
        return next((p for p in self.params if p.name == name and p.machine == machine), None)

    def machines(self) -> list:
        return sorted({p.machine for p in self.params} - {"all"})

    def values(self, machine: str = "all", *, worst: bool = False) -> dict:
        """{symbol name: number} for the bounds: the fitted value, or with
        ``worst=True`` the slow end (largest delay, smallest throughput,
        over the interval and every observation)."""
        out = {}
        for p in self.params:
            if p.machine != machine or not np.isfinite(p.value):
                continue
            v = p.value
            if worst:
                obs = [x for x in p.samples if np.isfinite(x)]
                if p.name.startswith("B_"):
                    v = min([v, p.lo] + obs) if np.isfinite(p.lo) else min([v] + obs)
                else:
                    v = max([v, p.hi] + obs) if np.isfinite(p.hi) else max([v] + obs)
            out[p.name] = v
        return out

    def laws(self, machine: str = "all") -> dict:
        """Samplers ``(rng, n) -> array`` for :meth:`oomnb.kernel.timing.Delay.sample`:
        each resamples the per-episode values it was fitted from."""
        laws = {}
        for p in self.params:
            if p.machine != machine or not p.samples:
                continue
            vals = np.array([x for x in p.samples if np.isfinite(x)], float)
            if not len(vals):
                continue
            key = {"t_slack": "timer_slack", "t_attempt": "reap_attempt",
                   "B_reap": "reap_throughput", "B_exit": "exit_throughput"}.get(p.name)
            if key:
                laws[key] = (lambda v: lambda rng, n: rng.choice(v, size=n))(vals)
        return laws


def calibrate(episodes: pd.DataFrame, *, seed: int = SEED) -> Calibration:
    """Fit every parameter per machine and over all machines."""
    rng = np.random.default_rng(seed)
    ep = episodes.copy()
    for c in ("kill_to_wake", "kill_to_reap_start", "reap_duration", "kill_to_exit_start",
              "kill_to_free", "anon_rss_kb", "reap_attempts"):
        ep[c] = _num(ep[c]) if c in ep else np.nan
    delay = float(timing.OOM_REAPER_DELAY_TIMER.value(_v618(), {}))
    cal = Calibration(reaper_delay_s=delay)
    groups = [("all", ep)] + [(m, g) for m, g in ep.groupby(ep["machine"].astype(str), sort=True)]
    for machine, g in groups:
        # timer slack
        w = g.dropna(subset=["kill_to_wake"])
        slack = (w["kill_to_wake"] - delay).tolist()
        if slack:
            lo, hi = _boot(slack, lambda v: float(np.median(v)), rng)
            cal.params.append(Param("t_slack", machine, float(np.median(slack)), lo, hi,
                                    len(slack), "s", "median of kill->wake_reaper - 2*HZ/HZ",
                                    tuple(slack)))
        # attempt latency
        a = g.dropna(subset=["kill_to_wake", "kill_to_reap_start"])
        att = (a["kill_to_reap_start"] - a["kill_to_wake"]).tolist()
        if att:
            lo, hi = _boot(att, lambda v: float(np.median(v)), rng)
            cal.params.append(Param("t_attempt", machine, float(np.median(att)), lo, hi, len(att),
                                    "s", "median of wake_reaper->start_task_reaping", tuple(att)))
        # reap throughput
        r = g[(g["outcome"] == "reaped")].dropna(subset=["reap_duration", "anon_rss_kb"])
        pairs = list(zip((r["anon_rss_kb"] * 1024).tolist(), r["reap_duration"].tolist()))
        if len(pairs) >= 2:
            b = _throughput(pairs)
            lo, hi = _boot(pairs, _throughput, rng)
            per = tuple(x / y for x, y in pairs if y > 0)
            _, t0 = theil_sen([p[0] for p in pairs], [p[1] for p in pairs])
            cal.params.append(Param("B_reap", machine, b, lo, hi, len(pairs), "bytes/s",
                                    "Theil-Sen: reap_duration vs anon RSS", per))
            cal.params.append(Param("reap_t0", machine, t0, float("nan"), float("nan"),
                                    len(pairs), "s", "Theil-Sen intercept"))
        # exit_mmap throughput: victims that exited unhindered
        x = g[g["outcome"] == "self-exit"].dropna(subset=["kill_to_free", "kill_to_exit_start",
                                                         "anon_rss_kb"])
        pairs = list(zip((x["anon_rss_kb"] * 1024).tolist(),
                         (x["kill_to_free"] - x["kill_to_exit_start"]).tolist()))
        if len(pairs) >= 2:
            b = _throughput(pairs)
            lo, hi = _boot(pairs, _throughput, rng)
            per = tuple(p / s for p, s in pairs if s > 0)
            cal.params.append(Param("B_exit", machine, b, lo, hi, len(pairs), "bytes/s",
                                    "Theil-Sen: exit_start->free vs anon RSS", per))
        # trylock failure fraction, per scenario
        t = g.dropna(subset=["reap_attempts"])
        for sc, h in t.groupby(t["scenario"].astype(str), sort=True):
            att = h["reap_attempts"].sum()
            fails = (h["reap_attempts"] - h["kill_to_reap_start"].notna().astype(int)).clip(lower=0).sum()
            if att:
                cal.params.append(Param("p_trylock", f"{machine}:{sc}", float(fails / att),
                                        float("nan"), float("nan"), int(att), "1",
                                        "failed attempts / attempts"))
    return cal


#: the calibration report: (label, parameter, scale to the shown unit, unit)
REPORT = (
    ("timer delay: kill -> wake_reaper", "t_slack", 1.0, "s"),
    ("wake_reaper -> start_task_reaping", "t_attempt", 1e3, "ms"),
    ("reap throughput (oom_reaper)", "B_reap", 1 / GIB, "GiB/s"),
    ("reap fixed cost (Theil-Sen intercept)", "reap_t0", 1e3, "ms"),
    ("exit_mmap throughput (victim's own exit)", "B_exit", 1 / GIB, "GiB/s"),
)


def report(cal: Calibration, machine: str = "all") -> pd.DataFrame:
    """The fitted parameters in readable units, with their 90 % intervals:
    the timer delay is ``OOM_REAPER_DELAY`` plus the fitted lateness."""
    rows = []
    for label, name, scale, unit in REPORT:
        p = cal.get(name, machine)
        if p is None:
            continue
        add = cal.reaper_delay_s if name == "t_slack" else 0.0
        rows.append({"quantity": label, "symbol": name, "value": (p.value + add) * scale,
                     "lo": (p.lo + add) * scale, "hi": (p.hi + add) * scale, "unit": unit,
                     "n": p.n})
    return pd.DataFrame(rows, columns=["quantity", "symbol", "value", "lo", "hi", "unit", "n"])


def _v618():
    from .kernel.versions import VERSIONS
    return VERSIONS["v6.18"]


def calibrate_data(paths=None) -> Calibration:
    """Calibrate from data sets (default: the shipped ``data/``)."""
    from . import trace
    paths = [str(trace.data_dir())] if paths is None else [str(p) for p in paths]
    return calibrate(trace.df_episodes(paths))


__all__ = ["Param", "Calibration", "calibrate", "calibrate_data", "theil_sen", "report", "REPORT"]
