"""Figures and tables of simulated timelines (notebook 03).

* :func:`headline`: one situation under several versions, one recorded
  episode each (the same seed), as :class:`~oomnb.sim.output.Timeline`;
* :func:`plot_timelines`: aligned swimlanes per version (victim threads,
  kworker, oom_reaper, the reaper timer, the allocating task, IO) with
  the memcg usage below and the moments annotated;
* :func:`monte_carlo`, :func:`mc_table`, :func:`plot_distributions`:
  per-version distributions of the latencies that matter;
* :func:`real_vs_sim`, :func:`quantile_table`, :func:`plot_real_vs_sim`:
  the calibrated simulation against the measured episodes, quantile by
  quantile (kill -> reaper start, reap duration against RSS);
* :func:`plot_law_fit`: the fitted laws against the data they came from.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..report import VERSION_COLORS

VERSIONS = ("v4.5", "v4.8", "v4.9", "v6.18")
#: the headline situation: the victim's exit stuck in exit_aio, a second
#: allocating task, 1 GiB of anonymous memory, the IO completing after 6 s
SITUATION = "aio-blocked+second-oom"
SITUATION_LAWS = {"aio_io": "const:6", "rss_anon": "const:1G"}

_PHASE_COLOR = {
    "SIGKILL pending": "#cccccc", "EXITING": "#bbbbbb", "exit_aio (__mmput)": "#E69F00",
    "exit_mmap:unmap (__mmput)": "#0072B2", "exit_mmap:skip (__mmput)": "#56B4E9",
    "exit_mmap:free (__mmput)": "#56B4E9", "unmapping": "#009E73", "attempt": "#CC79A7",
    "sleep": "#eeeeee", "done": "#999999", "holds oom_lock": "#000000", "AIO in flight": "#F0E442",
    "OOM_REAPER_DELAY": "#D3E9F5", "holds mmap_lock": "#D55E00",
}
_MOMENT_STYLE = {"kill": ("#D55E00", "kill"), "reaper wake": ("#0072B2", "reaper wake"),
                 "reap": ("#009E73", "reap"), "MMF_OOM_SKIP": ("#CC79A7", "MMF_OOM_SKIP"),
                 "second kill": ("#000000", "second kill"), "free": ("#777777", "free")}


def headline(versions=VERSIONS, *, seed: int = 3, scenario: str = SITUATION, laws=None,
             horizon: float = 10.0) -> list:
    """One recorded episode of ``scenario`` per version (the same seed and laws)."""
    from . import simulate, timeline
    lw = dict(SITUATION_LAWS, **(laws or {}))
    return [timeline(simulate(v, scenario, 1, seed, laws=lw, record=True, horizon=horizon), 0)
            for v in versions]


def plot_timelines(timelines, *, t_max: float | None = None):
    """Aligned swimlanes, one block per timeline, the memcg usage below each."""
    t_max = t_max or max(tl.end for tl in timelines) * 1.02
    heights = []
    for tl in timelines:
        heights += [0.32 * len(tl.lanes) + 0.3, 0.55]
    fig, axes = plt.subplots(len(heights), 1, figsize=(7.2, sum(heights) + 0.8), sharex=True,
                             gridspec_kw={"height_ratios": heights})
    seen = set()
    for b, tl in enumerate(timelines):
        ax, mx = axes[2 * b], axes[2 * b + 1]
        lanes = list(tl.lanes)
        for y, actor in enumerate(lanes):
            yy = len(lanes) - 1 - y
            for a, z, lab in tl.lanes[actor]:
                c = _PHASE_COLOR.get(lab, "#dddddd")
                shown = lab not in seen and lab in _PHASE_COLOR and z - a > t_max * 0.002
                ax.broken_barh([(a, max(z - a, t_max * 0.002))], (yy - 0.35, 0.7), color=c,
                               label=lab if shown else None, lw=0)
                if shown:
                    seen.add(lab)
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels(lanes[::-1], fontsize=7)
        ax.set_ylim(-0.6, len(lanes) - 0.4)
        col = VERSION_COLORS.get(tl.kernel, "#000000")
        ax.set_title(f"{tl.kernel}", loc="left", fontsize=9, color=col, fontweight="bold")
        used = {}
        for t, lab in sorted(tl.moments):
            if lab not in _MOMENT_STYLE or lab in used:
                continue
            used[lab] = t
            c, name = _MOMENT_STYLE[lab]
            for a_ in (ax, mx):
                a_.axvline(t, color=c, lw=0.8, ls="--")
            k = len(used) - 1
            when = f"{t * 1e3:.0f} ms" if t < 1 else f"{t:.2f} s"
            ax.annotate(f"{name} {when}", (t, len(lanes) - 0.45), xytext=(2, -1 - 7 * (k % 4)),
                        textcoords="offset points", fontsize=6, color=c, va="top",
                        annotation_clip=False,
                        bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none",
                              "alpha": 0.7})
        ts, us = zip(*tl.memory)
        mx.fill_between(ts, np.array(us) / 2 ** 30, step=None, color="#999999", alpha=0.5, lw=0)
        mx.set_ylim(0, max(us) / 2 ** 30 * 1.15 + 1e-9)
        mx.set_ylabel("GiB", fontsize=7)
        mx.tick_params(labelsize=7)
        mx.text(0.995, 0.9, "victim's memcg usage", transform=mx.transAxes, ha="right", va="top",
                fontsize=6, color="#555555")
    axes[-1].set_xlim(-0.02 * t_max, t_max)
    axes[-1].set_xlabel("seconds since the allocation that ran out of memory")
    fig.legend(loc="lower center", ncol=4, fontsize=6, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def monte_carlo(versions=VERSIONS, *, runs: int = 2000, seed: int = 0, scenario: str = SITUATION,
                laws=None, horizon: float = 30.0) -> pd.DataFrame:
    """Latencies of ``runs`` episodes per version (:func:`oomnb.sim.latencies`)."""
    from . import latencies, simulate
    lw = dict(SITUATION_LAWS, **(laws or {}))
    out = []
    for v in versions:
        lat = latencies(simulate(v, scenario, runs, seed, laws=lw, horizon=horizon))
        out.append(lat.assign(version=v))
    return pd.concat(out, ignore_index=True)


MC_METRICS = (("kill_to_may_select", "kill -> may select again"),
              ("kill_to_unmapped", "kill -> memory unmapped"),
              ("kill_to_free", "kill -> victim freed"))


def mc_table(mc: pd.DataFrame) -> pd.DataFrame:
    """Per version: medians and 95th percentiles (s), premature second
    kills, mean reaper attempts, the unable-to-reap rate."""
    rows = []
    for v, g in mc.groupby("version", sort=False):
        r = {"version": v, "runs": len(g)}
        for col, _ in MC_METRICS:
            x = g[col].dropna()
            r[f"{col} median"] = x.median() if len(x) else np.nan
            r[f"{col} p95"] = x.quantile(0.95) if len(x) else np.nan
        r["premature 2nd kill"] = (g.premature_kills > 0).mean()
        r["reap attempts"] = g.reap_attempts.mean()
        r["unable to reap"] = g.unable.mean()
        rows.append(r)
    return pd.DataFrame(rows).set_index("version")


def plot_distributions(mc: pd.DataFrame):
    """Empirical CDFs per version of the latencies of :data:`MC_METRICS`."""
    fig, axes = plt.subplots(1, len(MC_METRICS), figsize=(7.2, 2.6), sharey=True)
    for ax, (col, name) in zip(axes, MC_METRICS):
        for v, g in mc.groupby("version", sort=False):
            x = np.sort(g[col].to_numpy(float))
            x = x[np.isfinite(x)]
            if not len(x):
                continue
            y = np.arange(1, len(x) + 1) / len(g)
            ax.step(np.maximum(x, 1e-4), y, where="post", color=VERSION_COLORS.get(v), label=v)
        ax.set_xscale("log")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("s (log)")
    axes[0].set_ylabel("fraction of episodes")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def real_vs_sim(real: pd.DataFrame, *, runs: int = 100, seed: int = 0, scenario="aio-blocked",
                version="v6.18") -> pd.DataFrame:
    """Measured episodes of ``scenario`` and simulated ones (through the
    real episode builder), machine by machine: each machine's own
    calibration, its victims' RSS resampled, ``runs`` episodes per
    measured one.  One table, column ``source`` = measured | simulated."""
    from . import calibration, compile_graph, episodes_table, resolve, run
    from .laws import parse
    from .sweep import point_seed
    cols = ["machine", "kill_to_wake", "kill_to_reap_start", "reap_duration", "kill_to_free",
            "anon_rss_kb"]
    r = real[(real.scenario == scenario) & (real.outcome == "reaped")]
    c = compile_graph(version, scenario)
    out = [r[cols].assign(source="measured")]
    for i, (m, g) in enumerate(r.groupby("machine", sort=True)):
        lw = resolve(calibration=calibration(), machine=m, hz=c.kernel.hz)
        lw["rss_anon"] = parse("data", values=(g.anon_rss_kb.astype(float) * 1024).tolist())
        s = episodes_table(run(c, lw, runs * len(g), point_seed(seed, i), record=True))
        out.append(s[s.outcome == "reaped"][cols].assign(machine=m, source="simulated"))
    both = pd.concat(out, ignore_index=True)
    num = cols[1:]
    both[num] = both[num].astype(float)
    return both


def quantile_table(both: pd.DataFrame, cols=("kill_to_reap_start", "reap_duration"),
                   qs=(0.1, 0.25, 0.5, 0.75, 0.9)) -> pd.DataFrame:
    """Quantiles of measured and simulated side by side (seconds)."""
    rows = []
    for col in cols:
        for q in qs:
            m = both[both.source == "measured"][col].quantile(q)
            s = both[both.source == "simulated"][col].quantile(q)
            rows.append({"quantity": col, "q": q, "measured": m, "simulated": s,
                         "sim/measured": s / m if m else np.nan})
    return pd.DataFrame(rows)


def plot_real_vs_sim(both: pd.DataFrame):
    """Q-Q of kill -> reaper start; reap duration against RSS."""
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    m, s = both[both.source == "measured"], both[both.source == "simulated"]
    qs = np.linspace(0.02, 0.98, 25)
    ax = axes[0]
    a, b = m.kill_to_reap_start.quantile(qs), s.kill_to_reap_start.quantile(qs)
    ax.plot(a, b, "o", ms=4, color="#009E73")
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    ax.plot([lo, hi], [lo, hi], "--", color="#999999", lw=1)
    ax.set_xlabel("measured kill -> reaper start (s)")
    ax.set_ylabel("simulated (s)")
    ax.set_title("quantile vs quantile", fontsize=8)
    ax = axes[1]
    ax.plot(s.anon_rss_kb / 2 ** 20, s.reap_duration * 1e3, ".", ms=3, alpha=0.3, color="#009E73",
            label="simulated v6.18")
    ax.plot(m.anon_rss_kb / 2 ** 20, m.reap_duration * 1e3, "o", mfc="none", color="#D55E00",
            label="measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("anon RSS at the kill (GiB)")
    ax.set_ylabel("reap duration (ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_law_fit(cal, real: pd.DataFrame):
    """The timer law (wheel phase + softirq lag) against the measured
    lateness of the 2 s timer; reap throughput's resampled values against
    RSS."""
    from .laws import resolve
    lw = resolve(calibration=cal)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.8))
    ax = axes[0]
    slack = np.sort(np.array(cal.get("t_slack").samples))
    draw = np.sort(lw["timer_slack"](np.random.default_rng(0), 20000))
    ax.step(slack * 1e3, np.arange(1, len(slack) + 1) / len(slack), where="post", color="#D55E00",
            label=f"measured (n={len(slack)})")
    ax.plot(draw * 1e3, np.arange(1, len(draw) + 1) / len(draw), color="#0072B2",
            label=f"law {lw['timer_slack']}")
    ax.set_xlabel("OOM_REAPER_DELAY lateness (ms)")
    ax.set_ylabel("CDF")
    ax.legend(fontsize=6)
    ax = axes[1]
    r = real[(real.outcome == "reaped") & real.reap_duration.notna()]
    ax.plot(r.anon_rss_kb / 2 ** 20, r.anon_rss_kb * 1024 / r.reap_duration / 1e9, "o", mfc="none",
            color="#D55E00", label="per episode")
    b = cal.get("B_reap")
    ax.axhline(b.value / 1e9, color="#0072B2", lw=1, label=f"Theil-Sen {b.value / 1e9:.1f} GB/s")
    ax.axhspan(b.lo / 1e9, b.hi / 1e9, color="#0072B2", alpha=0.15, lw=0, label="90 % bootstrap")
    ax.set_xscale("log")
    ax.set_xlabel("anon RSS (GiB)")
    ax.set_ylabel("reap throughput (GB/s)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def writeup(timelines, table: pd.DataFrame) -> str:
    """The plain-text block: the ASCII timelines and the Monte Carlo medians."""
    from .output import ascii_timelines
    lines = [ascii_timelines(timelines), "",
             "Monte Carlo medians (s) and rates per version:", ""]
    lines.append(f"{'version':<8}{'may select':>11}{'unmapped':>10}{'freed':>9}"
                 f"{'premature':>11}{'unable':>8}")
    for v, r in table.iterrows():
        f = lambda x: "never" if not np.isfinite(x) else f"{x:.3f}"  # noqa: E731
        lines.append(f"{v:<8}{f(r['kill_to_may_select median']):>11}"
                     f"{f(r['kill_to_unmapped median']):>10}{f(r['kill_to_free median']):>9}"
                     f"{r['premature 2nd kill']:>11.1%}{r['unable to reap']:>8.1%}")
    return "\n".join(lines)


__all__ = ["headline", "plot_timelines", "monte_carlo", "mc_table", "plot_distributions",
           "real_vs_sim", "quantile_table", "plot_real_vs_sim", "plot_law_fit", "writeup",
           "VERSIONS", "SITUATION", "SITUATION_LAWS"]
