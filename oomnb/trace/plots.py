"""Figures and the writeup block of the real-trace notebook (04-real-traces).

Each function takes the episodes table (and memcg samples) and returns a
matplotlib figure or text; nothing here reads files.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..errors import OomnbError

MARKS = [("kill", "kill", "o", "#000000"), ("wake", "reaper wake", "v", "#D55E00"),
         ("skip", "first skip_task_reaping", "x", "#E69F00"),
         ("exit_start", "exit start", "|", "#009E73"), ("exit_mm_done", "exit_mm done", "|", "#56B4E9"),
         ("free", "free", "s", "#CC79A7")]
REAP_COLOR = "#0072B2"


def _need(ep: pd.DataFrame, cols):
    missing = [c for c in cols if c not in ep.columns]
    if missing:
        raise OomnbError(f"episodes table lacks columns {missing}")
    if ep.empty:
        raise OomnbError("no episodes to plot")


def _ok(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _label(r):
    return f"{r.run} ({r.pid})" if isinstance(r.run, str) else str(r.pid)


def plot_swimlanes(ep: pd.DataFrame, memcg: pd.DataFrame | None = None, *, title: str = ""):
    """One lane per episode, times relative to the kill: reaper wake, the reap
    (bar from start to finish), exit start (or exit_mm done), free. Below, the
    memcg usage of the episodes whose trace clock is CLOCK_MONOTONIC (the
    samples' clock); other episodes get no curve, never a shifted one."""
    _need(ep, ["kill", "wake", "reap_start", "reap_finish", "free", "clock"])
    ep = ep[ep.kill.notna() & ep.clock.astype(str).str.startswith("trace:")].reset_index(drop=True)
    same = ep[ep.clock == "trace:mono"] if memcg is not None and not memcg.empty else ep.iloc[0:0]
    rows = 2 if len(same) else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7.0, 0.32 * len(ep) + (2.6 if rows == 2 else 1.2)),
                             sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [max(2, 0.32 * len(ep)), 2.2][:rows]})
    ax = axes[0][0]
    seen = set()
    for i, r in enumerate(ep.itertuples()):
        y = len(ep) - 1 - i
        ax.axhline(y, color="#dddddd", lw=0.6, zorder=0)
        if _ok(r.reap_start) and _ok(r.reap_finish):
            name = "reap" if r.outcome != "joined" else "reap (joined exit_mmap)"
            lab = name if name not in seen else None
            seen.add(name)
            ax.barh(y, r.reap_finish - r.reap_start, left=r.reap_start - r.kill, height=0.5,
                    color=REAP_COLOR if r.outcome != "joined" else "none", edgecolor=REAP_COLOR,
                    hatch=None if r.outcome != "joined" else "////", label=lab, zorder=2)
        for col, name, mk, c in MARKS:
            v = getattr(r, col)
            if _ok(v):
                ax.plot(v - r.kill, y, mk, color=c, ms=6 if mk != "|" else 11, mew=1.6,
                        label=name if name not in seen else None, zorder=3)
                seen.add(name)
    ax.set_yticks(range(len(ep)))
    ax.set_yticklabels([f"{_label(r)} {r.outcome}" for r in ep.iloc[::-1].itertuples()], fontsize=7)
    ends = [getattr(r, c) - r.kill for r in ep.itertuples() for c in ("free", "reap_finish", "wake")
            if _ok(getattr(r, c))]
    hi = (max(ends) if ends else 1.0) * 1.08 + 0.1
    ax.set_xlim(-0.05 * hi, hi)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set_title(title or "OOM episodes: time since the kill (mark_victim)")
    if rows == 2:
        ax2 = axes[1][0]
        for r in same.itertuples():
            m = memcg[(memcg.machine == r.machine) & (memcg.run == r.run)]
            if m.empty:
                continue
            m = m[(m.t - r.kill >= -0.05 * hi) & (m.t - r.kill <= hi)]
            ax2.plot(m.t - r.kill, m.usage_bytes / 2**30, lw=1, label=_label(r))
        ax2.set_ylabel("memcg usage (GiB)")
        ax2.set_title("memcg usage, same clock as the trace (trace_clock=mono) only", fontsize=8)
    axes[-1][0].set_xlabel("seconds since the kill")
    fig.tight_layout()
    return fig


def plot_latency_distributions(ep: pd.DataFrame):
    """kill -> reaper start and reap duration, one strip per machine."""
    _need(ep, ["machine", "kill_to_reap_start", "reap_duration", "outcome"])
    d = ep[ep.reap_duration.notna()]
    machines = sorted(d.machine.dropna().unique())
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.8))
    for ax, col, name, scale, unit in ((axes[0], "kill_to_reap_start", "kill → reaper start", 1.0, "s"),
                                       (axes[1], "reap_duration", "reap duration", 1e3, "ms")):
        for i, m in enumerate(machines):
            g = d[d.machine == m]
            rng = np.random.default_rng(i)
            x = i + rng.uniform(-0.12, 0.12, len(g))
            joined = (g.outcome == "joined").to_numpy()
            ax.plot(x[~joined], g[col].to_numpy()[~joined] * scale, "o", ms=5, alpha=0.85, label=None)
            if joined.any():
                ax.plot(x[joined], g[col].to_numpy()[joined] * scale, "o", mfc="none", ms=7,
                        color="#D55E00", label="joined")
        ax.set_xticks(range(len(machines)))
        ax.set_xticklabels([m.split("-")[0] for m in machines])
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_xlim(-0.6, len(machines) - 0.4)
        if col == "kill_to_reap_start":
            ax.axhline(2.0, color="#999999", ls="--", lw=1)
            ax.annotate("OOM_REAPER_DELAY = 2 s", (0.02, 0.04), xycoords="axes fraction", fontsize=7,
                        color="#666666")
        else:
            ax.set_yscale("log")
            if (d.outcome == "joined").any():
                ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fit_throughput(ep: pd.DataFrame) -> pd.DataFrame:
    """Per machine, least-squares ``reap_duration = a + anon_rss / throughput``
    over reaped episodes (``joined`` ones excluded)."""
    rows = []
    d = ep[(ep.outcome == "reaped") & ep.reap_duration.notna() & ep.anon_rss_kb.notna()]
    for m, g in d.groupby("machine"):
        x = g.anon_rss_kb.to_numpy(dtype=float) * 1024.0
        y = g.reap_duration.to_numpy(dtype=float)
        if len(g) >= 2 and np.ptp(x) > 0:
            slope, icept = np.polyfit(x, y, 1)
        else:
            slope, icept = (y.sum() / x.sum()), 0.0
        rows.append({"machine": m, "n": len(g), "throughput_GBps": 1e-9 / slope, "intercept_ms": icept * 1e3,
                     "min_GBps": float((x / y).min() / 1e9), "max_GBps": float((x / y).max() / 1e9),
                     "excluded_joined": int(((ep.machine == m) & (ep.outcome == "joined")).sum())})
    return pd.DataFrame(rows)


def plot_reap_throughput(ep: pd.DataFrame):
    """Reap duration against the victim's anon RSS, with each machine's fit;
    ``joined`` episodes drawn hollow and left out of the fit."""
    _need(ep, ["machine", "anon_rss_kb", "reap_duration", "outcome"])
    fit = fit_throughput(ep)
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    for i, (m, g) in enumerate(ep[ep.reap_duration.notna()].groupby("machine")):
        c = plt.rcParams["axes.prop_cycle"].by_key()["color"][i]
        ok = g[g.outcome == "reaped"]
        ax.plot(ok.anon_rss_kb / 2**20, ok.reap_duration * 1e3, "o", color=c, label=m)
        j = g[g.outcome == "joined"]
        if len(j):
            ax.plot(j.anon_rss_kb / 2**20, j.reap_duration * 1e3, "o", mfc="none", color=c, ms=8,
                    label=f"{m}: joined (not fitted)")
        f = fit[fit.machine == m]
        if len(f):
            f = f.iloc[0]
            xs = np.linspace(0, g.anon_rss_kb.max() / 2**20, 50)
            ys = f.intercept_ms + xs * 2**30 / (f.throughput_GBps * 1e9) * 1e3
            ax.plot(xs, ys, "-", color=c, lw=1, alpha=0.7,
                    label=f"fit: {f.throughput_GBps:.1f} GB/s")
    ax.set_xlabel("victim anon RSS at the kill (GiB)")
    ax.set_ylabel("reap duration (ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _fmt_range(v, scale, fmt):
    v = v.dropna()
    if v.empty:
        return "-"
    lo, hi = v.min() * scale, v.max() * scale
    return f"{lo:{fmt}}-{hi:{fmt}}" if f"{lo:{fmt}}" != f"{hi:{fmt}}" else f"{lo:{fmt}}"


def writeup_table(ep: pd.DataFrame, offsets: pd.DataFrame) -> str:
    """A <= 72-column plain-text summary of the measurements: one table of
    outcomes and reaper timing, one of reap throughput and clock offsets."""
    fit = fit_throughput(ep)
    short = {m: m.split("-")[0] for m in ep.machine.dropna().unique()}
    t1 = [f"{'machine':<8} {'clock':<6} {'victims':>7} {'reaped':>6} {'self-exit':>9} {'joined':>6} "
          f"{'unable':>6}  {'kill->wake s':<12}"]
    t2 = [f"{'machine':<8} {'reap ms':<9} {'anon GiB':<9} {'GB/s fit':>8} {'per run':<9}  "
          f"{'printk-trace ms':<15}"]
    for m, g in ep.groupby("machine"):
        oc = g.outcome.value_counts()
        clock = g.clock.dropna().iloc[0].split(":", 1)[-1] if g.clock.notna().any() else "-"
        t1.append(f"{short[m]:<8} {clock:<6} {len(g):>7d} {oc.get('reaped', 0):>6d} {oc.get('self-exit', 0):>9d} "
                  f"{oc.get('joined', 0):>6d} {oc.get('unable', 0):>6d}  {_fmt_range(g.kill_to_wake, 1.0, '.3f'):<12}")
        r = g[g.outcome == "reaped"]
        f = fit[fit.machine == m]
        o = offsets[(offsets.machine == m) & (offsets.anchor == "kill")]
        tp = f"{f.iloc[0].throughput_GBps:8.1f}" if len(f) else f"{'-':>8}"
        each = f"{f.iloc[0].min_GBps:.1f}-{f.iloc[0].max_GBps:.1f}" if len(f) else "-"
        off = (f"{o.offset_s.median() * 1e3:+.3f} ({(o.offset_s.max() - o.offset_s.min()) * 1e6:.0f} us)"
               if len(o) else "-")
        t2.append(f"{short[m]:<8} {_fmt_range(r.reap_duration, 1e3, '.0f'):<9} "
                  f"{_fmt_range(r.anon_rss_kb, 1 / 2**20, '.1f'):<9} {tp} {each:<9}  {off:<15}")
    notes = ["reap: reaped episodes only; the fit (reap duration = a + RSS/GB/s)",
             "leaves out joined episodes (the victim's own exit_mmap ran first).",
             "printk-trace: median over runs of Killed process - mark_victim",
             "(same pid, one run's file pair), spread over runs in parentheses."]
    body = "\n".join(x.rstrip() for x in t1) + "\n\n" + "\n".join(x.rstrip() for x in t2) + "\n\n" + "\n".join(notes)
    return body + "\n"
