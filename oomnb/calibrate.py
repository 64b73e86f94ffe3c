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
``t_softirq``  the timer's lag beyond the timer wheel's rounding: the
               2*HZ timer lands in a wheel level of 8-jiffy granularity
               (kernel/time/timer.c:calc_wheel_index), so its lateness is
               a uniform phase over 8 jiffies plus this lag
``t_signal``   ``kill -> sched_process_exit`` (6.16+: fired in do_exit
               before exit_mm) where nothing blocks the victim before
               do_exit: SIGKILL delivery and scheduling latency
``t_cpu``      a short kernel step, at the scale of one reaper attempt
``exit_t0``    the RSS-independent part of the victim's teardown
               (Theil-Sen intercept of ``exit_start -> free``)
``T_io``       when the victim's in-flight AIO completed in the
               ``aio-blocked`` runs: ``kill -> free`` minus ``exit_t0``
               (the recorded runs lift the IO throttle after the reap,
               so this describes the recording, not a kernel property)
``T_dstate``   the same for the D-state IO of ``dstate-thread`` runs
``T_lock``     how long the mmap lock was held in
               ``reaper-trylock-failure`` runs: ``kill ->
               sched_process_exit`` (the victim's exit waits for it)

:meth:`Calibration.law_specs` turns them into the simulator's laws
(:mod:`oomnb.sim.laws`).
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
    pairs: tuple = ()    # throughputs: the (bytes, seconds) the fit was made from

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

    def law_specs(self, machine: str = "all") -> dict:
        """``{law name: (spec, samples)}`` for :func:`oomnb.sim.laws.resolve`:
        ``data`` (resample the per-episode values) for the delay laws, the
        timer-wheel law with the fitted softirq lag for ``timer_slack``."""
        from .sim.laws import FROM_PARAM, wheel_granularity
        out = {}
        for p in self.params:
            if p.machine != machine or p.name not in FROM_PARAM:
                continue
            vals = tuple(float(x) for x in p.samples if np.isfinite(x))
            if vals:
                out[FROM_PARAM[p.name]] = ("data", vals)
        for law, pname in (("reap_throughput", "B_reap"), ("exit_throughput", "B_exit")):
            rows = self._fit_rows(pname, machine)
            if rows:
                out[law] = ("fit", rows)
        lag = self.get("t_softirq", machine)
        if lag is not None and np.isfinite(lag.value):
            j = self.reaper_delay_s * 250
            out["timer_slack"] = (f"wheel:{j:g},{lag.value:.6g}", out.get("timer_slack", ("", ()))[1])
        return out

    def _fit_rows(self, pname: str, machine: str) -> tuple:
        """Flattened ``(t0, B, residual, rss)`` per episode behind ``pname``
        of ``machine`` (or of every machine for ``"all"``), each with its own
        machine's Theil-Sen line."""
        rows = []
        ms = self.machines() if machine == "all" else [machine]
        for m in ms:
            p = self.get(pname, m)
            if p is None or not np.isfinite(p.value) or p.value <= 0 or not p.pairs:
                continue
            icept = self.get({"B_reap": "reap_t0", "B_exit": "exit_t0"}[pname], m)
            t0 = max(icept.value, 0.0) if icept is not None else 0.0
            for size, dur in p.pairs:
                rows += [t0, p.value, dur - (t0 + size / p.value), size]
        return tuple(rows)

    def laws(self, machine: str = "all") -> dict:
        """Samplers ``(rng, n) -> array`` for :meth:`oomnb.kernel.timing.Delay.sample`
        (picklable :class:`oomnb.sim.laws.Law` objects): each resamples the
        per-episode values it was fitted from; ``timer_slack`` is the
        timer-wheel law with the fitted lag."""
        from .sim.laws import parse
        return {name: parse(spec, values=vals, name=name)
                for name, (spec, vals) in self.law_specs(machine).items()}


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
                                    "Theil-Sen: reap_duration vs anon RSS", per, tuple(pairs)))
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
                                    "Theil-Sen: exit_start->free vs anon RSS", per, tuple(pairs)))
        # trylock failure fraction, per scenario
        t = g.dropna(subset=["reap_attempts"])
        for sc, h in t.groupby(t["scenario"].astype(str), sort=True):
            att = h["reap_attempts"].sum()
            fails = (h["reap_attempts"] - h["kill_to_reap_start"].notna().astype(int)).clip(lower=0).sum()
            if att:
                cal.params.append(Param("p_trylock", f"{machine}:{sc}", float(fails / att),
                                        float("nan"), float("nan"), int(att), "1",
                                        "failed attempts / attempts"))
        _fit_laws(cal, machine, g, rng)
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


def _median_param(cal, name, machine, vals, unit, method, rng):
    vals = [float(v) for v in vals if np.isfinite(v)]
    if not vals:
        return
    lo, hi = _boot(vals, lambda v: float(np.median(v)), rng)
    cal.params.append(Param(name, machine, float(np.median(vals)), lo, hi, len(vals), unit, method,
                            tuple(vals)))


def _fit_laws(cal, machine, g, rng):
    """The parameters only the simulator's laws need (see the module docstring)."""
    from .sim.laws import wheel_granularity
    sc = g["scenario"].astype(str)
    # timer: uniform phase over the wheel granularity + softirq lag
    slack = cal.get("t_slack", machine)
    if slack is not None:
        gran = wheel_granularity(cal.reaper_delay_s * 250) / 250
        lags = [x - gran / 2 for x in slack.samples]
        lo, hi = _boot(lags, lambda v: float(np.median(v)), rng)
        cal.params.append(Param("t_softirq", machine, float(np.median(lags)), lo, hi, len(lags), "s",
                                f"median lateness minus half the wheel granularity ({gran * 1e3:g} ms)"))
    att = cal.get("t_attempt", machine)
    if att is not None:
        cal.params.append(Param("t_cpu", machine, att.value, att.lo, att.hi, att.n, "s",
                                "as t_attempt: the scale of a short kernel step", att.samples))
    free = g[sc != "reaper-trylock-failure"]
    _median_param(cal, "t_signal", machine, free["kill_to_exit_start"].tolist(), "s",
                  "median of kill->sched_process_exit (before exit_mm)", rng)
    x = g[g["outcome"] == "self-exit"].dropna(subset=["kill_to_free", "kill_to_exit_start",
                                                     "anon_rss_kb"])
    tail = 0.0
    if len(x) >= 2:
        _, tail = theil_sen((x["anon_rss_kb"] * 1024).tolist(),
                            (x["kill_to_free"] - x["kill_to_exit_start"]).tolist())
        tail = max(tail, 0.0)
        cal.params.append(Param("exit_t0", machine, tail, float("nan"), float("nan"), len(x), "s",
                                "Theil-Sen intercept of exit_start->free vs anon RSS"))
    for name, scen in (("T_io", "aio-blocked"), ("T_dstate", "dstate-thread")):
        h = g[sc == scen]["kill_to_free"].dropna()
        _median_param(cal, name, machine, (h - tail).tolist(), "s",
                      f"median of kill->free minus exit_t0 ({scen} runs)", rng)
    h = g[sc == "reaper-trylock-failure"]["kill_to_exit_start"].dropna()
    _median_param(cal, "T_lock", machine, h.tolist(), "s",
                  "median of kill->sched_process_exit (reaper-trylock-failure runs)", rng)


def _v618():
    from .kernel.versions import VERSIONS
    return VERSIONS["v6.18"]


def measured_sets(root=None) -> list:
    """The data sets of ``root`` (default: the shipped ``data/``) whose
    durations are real: every set except those recorded in an emulated
    machine (QEMU TCG), where orderings and timers compare but durations
    do not."""
    import json

    from . import trace
    root = trace.data_dir() if root is None else root
    out = []
    for m in sorted(root.glob("*/machine.json")):
        meta = json.loads(m.read_text())
        if "TCG" in str(meta.get("description", "")) or (meta.get("recording") or {}).get("guest"):
            continue
        out.append(str(m.parent))
    return out


def calibrate_data(paths=None) -> Calibration:
    """Calibrate from data sets (default: the shipped ``data/`` sets recorded
    on real or KVM machines, :func:`measured_sets`)."""
    from . import trace
    paths = measured_sets() if paths is None else [str(p) for p in paths]
    return calibrate(trace.df_episodes(paths))


__all__ = ["Param", "Calibration", "calibrate", "calibrate_data", "measured_sets", "theil_sen", "report", "REPORT"]
