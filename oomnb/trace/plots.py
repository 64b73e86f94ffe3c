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

MARKS = [("kill", "kill (mark_victim)", "o", "#000000"),
         ("wake", "reaper timer fires (wake_reaper)", "v", "#D55E00"),
         ("skip", "first skip_task_reaping", "x", "#E69F00"),
         ("exit_start", "exit starts (sched_process_exit)", "|", "#009E73"),
         ("exit_mm_done", "exit_mm done", "|", "#56B4E9"),
         ("free", "task freed (sched_process_free)", "s", "#CC79A7")]
REAP_COLOR = "#0072B2"
BLOCKED_COLOR = "#BBBBBB"
#: scenario colours, shared by the lanes' labels and the memcg curves
SCENARIO_COLORS = {"fast-exit": "#009E73", "aio-blocked": "#0072B2", "dstate-thread": "#CC79A7",
                   "frozen-victim": "#E69F00", "reaper-trylock-failure": "#D55E00"}
#: what the harness does in each scenario that shows in the timings
HARNESS_NOTE = ("aio-blocked: the victim's exit waits in exit_aio on IO that the collector throttles; "
                "the collector lifts the throttle after the reap, so the reap -> free gap is the "
                "harness, not the kernel")


def scenario_of(run: str) -> str:
    """``aio-blocked-1024M-3`` -> ``aio-blocked``."""
    import re
    m = re.match(r"^(.*?)-\d+[KMG]-\d+$", str(run))
    return m.group(1) if m else str(run)


def scenario_color(run: str) -> str:
    return SCENARIO_COLORS.get(scenario_of(run), "#444444")


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
    (bar from start to finish), exit start (or exit_mm done), free; in
    aio-blocked runs a grey bar for the time the exit waits in exit_aio
    (until the collector lifts the IO throttle, after the reap). Below, the
    memcg usage of the episodes whose trace clock is CLOCK_MONOTONIC (the
    samples' clock), coloured by scenario like the lane labels; other
    episodes get no curve, never a shifted one."""
    from matplotlib.lines import Line2D

    _need(ep, ["kill", "wake", "reap_start", "reap_finish", "free", "clock"])
    ep = ep[ep.kill.notna() & ep.clock.astype(str).str.startswith("trace:")].reset_index(drop=True)
    same = ep[ep.clock == "trace:mono"] if memcg is not None and not memcg.empty else ep.iloc[0:0]
    rows = 2 if len(same) else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7.2, 0.26 * len(ep) + (3.4 if rows == 2 else 1.6)),
                             sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [max(2, 0.26 * len(ep)), 2.0][:rows]})
    ax = axes[0][0]
    seen = set()

    def once(name):
        out = name if name not in seen else None
        seen.add(name)
        return out

    for i, r in enumerate(ep.itertuples()):
        y = len(ep) - 1 - i
        ax.axhline(y, color="#eeeeee", lw=0.6, zorder=0)
        if scenario_of(r.run) == "aio-blocked" and _ok(r.exit_start) and _ok(r.free):
            ax.barh(y, r.free - r.exit_start, left=r.exit_start - r.kill, height=0.22,
                    color=BLOCKED_COLOR, label=once("exit waits in exit_aio (IO throttled by the harness)"),
                    zorder=1)
        if _ok(r.reap_start) and _ok(r.reap_finish):
            joined = r.outcome == "joined"
            ax.barh(y, r.reap_finish - r.reap_start, left=r.reap_start - r.kill, height=0.5,
                    color="none" if joined else REAP_COLOR, edgecolor=REAP_COLOR,
                    hatch="////" if joined else None, zorder=2,
                    label=once("reap (joined the victim's exit_mmap)" if joined else
                               "reap (start_/finish_task_reaping)"))
        for col, name, mk, c in MARKS:
            v = getattr(r, col)
            if _ok(v):
                ax.plot(v - r.kill, y, mk, color=c, ms=5 if mk != "|" else 10, mew=1.5,
                        label=once(name), zorder=3)
    ax.set_yticks(range(len(ep)))
    ax.set_yticklabels([f"{_label(r)} {r.outcome}" for r in ep.iloc[::-1].itertuples()], fontsize=6.5)
    for t, r in zip(ax.get_yticklabels(), ep.iloc[::-1].itertuples()):
        t.set_color(scenario_color(r.run))
    ends = [getattr(r, c) - r.kill for r in ep.itertuples() for c in ("free", "reap_finish", "wake")
            if _ok(getattr(r, c))]
    hi = (max(ends) if ends else 1.0) * 1.05 + 0.05
    ax.set_xlim(-0.03 * hi, hi)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize=6.5, ncol=2)
    ax.set_title(title or "OOM episodes: time since the kill (mark_victim)", loc="left", pad=62)
    if rows == 2:
        ax2 = axes[1][0]
        for r in same.itertuples():
            m = memcg[(memcg.machine == r.machine) & (memcg.run == r.run)]
            if m.empty:
                continue
            m = m[(m.t - r.kill >= -0.03 * hi) & (m.t - r.kill <= hi)]
            ax2.plot(m.t - r.kill, m.usage_bytes / 2**30, lw=0.9, alpha=0.8, color=scenario_color(r.run))
        scen = list(dict.fromkeys(scenario_of(r) for r in same.run))
        ax2.legend(handles=[Line2D([], [], color=scenario_color(s + "-1M-0"), label=s) for s in scen],
                   loc="upper right", fontsize=6.5, ncol=2)
        ax2.set_ylabel("memcg usage (GiB)")
        ax2.set_title("memcg usage of each run (same clock as the trace)", fontsize=8, loc="left")
    axes[-1][0].set_xlabel("time since the kill (s)")
    fig.tight_layout()
    return fig


def plot_latency_distributions(ep: pd.DataFrame):
    """kill -> reaper start and reap duration, one strip per machine."""
    _need(ep, ["machine", "kill_to_reap_start", "reap_duration", "outcome"])
    d = ep[ep.reap_duration.notna()]
    machines = sorted(d.machine.dropna().unique())
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    from ..report import machine_color
    for ax, col, name, scale, unit in ((axes[0], "kill_to_reap_start", "kill to reaper start", 1.0, "s"),
                                       (axes[1], "reap_duration", "reap duration", 1e3, "ms")):
        for i, m in enumerate(machines):
            g = d[d.machine == m]
            rng = np.random.default_rng(i)
            x = i + rng.uniform(-0.12, 0.12, len(g))
            joined = (g.outcome == "joined").to_numpy()
            c = machine_color(m)
            ax.plot(x[~joined], g[col].to_numpy()[~joined] * scale, "o", ms=5, alpha=0.85, color=c)
            if joined.any():
                ax.plot(x[joined], g[col].to_numpy()[joined] * scale, "o", mfc="none", ms=7, mew=1.4,
                        color=c, label="joined the victim's exit_mmap")
        ax.set_xticks(range(len(machines)))
        ax.set_xticklabels([m.split("-")[0] for m in machines])
        ax.set_xlabel("machine")
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(name, loc="left", fontsize=9)
        ax.set_xlim(-0.6, len(machines) - 0.4)
        if col == "kill_to_reap_start":
            ax.axhline(2.0, color="#999999", ls="--", lw=1)
            top = float(d[col].max())
            ax.set_ylim(2.0 - 0.18 * max(top - 2.0, 0.01), top + 0.05 * max(top - 2.0, 0.01))
            ax.annotate("OOM_REAPER_DELAY = 2 s", (0.02, 2.0), xycoords=("axes fraction", "data"),
                        xytext=(0, -3), textcoords="offset points", ha="left", va="top", fontsize=7,
                        color="#666666")
        else:
            ax.set_yscale("log")
            if (d.outcome == "joined").any():
                ax.legend(fontsize=7, loc="lower right")
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


def fit_leverage(ep: pd.DataFrame, factor: float = 2.5) -> dict:
    """Machines whose fit leans on one run: the largest anon RSS is more than
    ``factor`` times the next one. ``{machine: (largest GB, next GB)}``."""
    out = {}
    d = ep[(ep.outcome == "reaped") & ep.reap_duration.notna() & ep.anon_rss_kb.notna()]
    for m, g in d.groupby("machine"):
        x = sorted(g.anon_rss_kb * 1024 / 1e9)
        if len(x) >= 3 and x[-1] > factor * x[-2]:
            out[m] = (x[-1], x[-2])
    return out


def plot_reap_throughput(ep: pd.DataFrame):
    """Reap duration against the victim's anon RSS (GB, 10^9 bytes, like the
    GB/s of the fits), with each machine's least-squares line; ``joined``
    episodes drawn hollow and left out of the fit."""
    from ..report import machine_color

    _need(ep, ["machine", "anon_rss_kb", "reap_duration", "outcome"])
    fit = fit_throughput(ep)
    lean = fit_leverage(ep)
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    groups = list(ep[ep.reap_duration.notna()].groupby("machine"))
    for m, g in groups:
        c = machine_color(m)
        short = m.split("-")[0]
        ok = g[g.outcome == "reaped"]
        ax.plot(ok.anon_rss_kb * 1024 / 1e9, ok.reap_duration * 1e3, "o", color=c, label=short)
        j = g[g.outcome == "joined"]
        if len(j):
            ax.plot(j.anon_rss_kb * 1024 / 1e9, j.reap_duration * 1e3, "o", mfc="none", color=c, ms=8,
                    mew=1.4, label=f"{short}: joined exit_mmap (not fitted)")
        f = fit[fit.machine == m]
        if len(f):
            f = f.iloc[0]
            xs = np.linspace(0, g.anon_rss_kb.max() * 1024 / 1e9, 50)
            ys = f.intercept_ms + xs / f.throughput_GBps * 1e3
            note = " (leans on its largest run)" if m in lean else ""
            ax.plot(xs, ys, "-", color=c, lw=1, alpha=0.7,
                    label=f"{short} fit: {f.throughput_GBps:.1f} GB/s{note}")
    ax.set_xlabel("victim anon RSS at the kill (GB, 10^9 bytes)")
    ax.set_ylabel("reap duration (ms)")
    ax.set_title(f"Reap duration against anon RSS on {len(groups)} machines", loc="left")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def throughput_caption(ep: pd.DataFrame, machines: dict | None = None) -> str:
    """The throughput figure's caption: the fit, its leverage, each machine's THP setting."""
    lean = fit_leverage(ep)
    parts = ["Reap duration against anon RSS; line: least-squares fit per machine, joined episodes "
             "excluded."]
    for m, (big, nxt) in sorted(lean.items()):
        parts.append(f"The {m.split('-')[0]} fit leans on one run ({big:.1f} GB; the next largest is "
                     f"{nxt:.1f} GB).")
    if machines:
        thp = ", ".join(f"{m.split('-')[0]} {v.get('thp') or 'not recorded'}" for m, v in sorted(machines.items()))
        parts.append(f"Transparent huge pages: {thp}.")
    return " ".join(parts)


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


def _wrap72(text: str, indent: str = "", sub: str | None = None) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, 72, initial_indent=indent, break_on_hyphens=False,
                                   subsequent_indent=indent if sub is None else sub))


def machines_text(machines: dict) -> str:
    """One line per machine of the data set: what it is, kernel, cgroup, THP."""
    out = []
    for m, v in sorted(machines.items()):
        out.append(_wrap72(f"- {m.split('-')[0]}: {v.get('description', '?')}, Linux "
                           f"{v.get('kernel_release', '?')}, cgroup v{v.get('cgroup_version', '?')}, "
                           f"THP {v.get('thp') or 'not recorded'}, trace_clock {v.get('trace_clock', '?')}.",
                           "", "  "))
    return "\n".join(out)


def measurements_text(ep: pd.DataFrame, offsets: pd.DataFrame, machines: dict) -> str:
    """The post's measurement section: machines, the two tables, and what
    the harness contributes to the timings."""
    n_runs = ep.groupby("machine").run.nunique().sum()
    scen = sorted({scenario_of(r) for r in ep.run})
    intro = _wrap72(
        f"{len(ep)} memcg-confined OOM kills in {n_runs} runs on {len(machines)} machines, "
        f"each run with the kernel's own oom:* tracepoints, sched_process_exit/free, "
        f"the kernel log and the memcg usage; scenarios: {', '.join(scen)}.")
    harness = _wrap72(
        "In the aio-blocked runs the victim's exit waits in exit_aio for AIO on "
        "a device the collector throttles; the collector lifts the throttle "
        "only after the reap, so the time from the reap to the victim's free "
        "measures the harness, not the kernel (the grey bars of the swimlane "
        "figures). What the kernel does shows in kill -> wake (the "
        "OOM_REAPER_DELAY timer) and in the reap itself.")
    return "\n\n".join([intro, machines_text(machines), writeup_table(ep, offsets).rstrip("\n"), harness])


def summary_claim(ep: pd.DataFrame, machines: dict) -> str:
    """The measurements in two lines for the post's opening."""
    fit = fit_throughput(ep)
    kernels = sorted({str(v.get("kernel_release", "?")).split("-")[0] for v in machines.values()})
    reaped = ep[ep.outcome.isin(["reaped", "joined"])]
    lo, hi = ep.kill_to_wake.min(), ep.kill_to_wake.max()
    text = (f"- On {ep.machine.nunique()} machines running Linux {' and '.join(kernels)}, the reaper started "
            f"{lo:.3f}-{hi:.3f} s after the kill (the OOM_REAPER_DELAY timer) and reaped "
            f"{len(reaped)} of {len(ep)} victims at {fit.throughput_GBps.min():.1f}-"
            f"{fit.throughput_GBps.max():.1f} GB/s; "
            f"{int((ep.outcome == 'self-exit').sum())} exited before the timer fired.")
    return _wrap72(text, "", "  ")
