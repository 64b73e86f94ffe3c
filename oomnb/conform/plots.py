"""Figures of notebook 05: a replay as a swimlane, the calibration fits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import events as ev
from ..checker.plots import plot_swimlane


@dataclass
class _Lane:
    n: int
    lane: str
    actor: str
    function: str
    key: str
    instance: object = None
    loop: bool = False
    changes: list = field(default_factory=list)   # state changes, as the checker prints them


def replay_steps(cell) -> list:
    """The replay's path as swimlane steps (observed events in the labels);
    for a cell that does not conform, a last step shows the unexplained event."""
    e, r = cell.episode, cell.replay
    out = []
    for s in r.path:
        what = ", ".join(e.events[i].label() for i in s.consumed)
        if s.edge is None:
            x = e.events[s.consumed[0]]
            lane = "oom_reaper" if x.what == ev.REAPER_WAKE else next(
                (k for k, v in r.binding.items() if v == x.pid), "T0")
            out.append(_Lane(len(out) + 1, lane, lane, f"seen: {what}", "state"))
            continue
        label = s.edge.transition.name + (f"  => {what}" if what else "")
        ch = []
        if r.graph is not None:
            from ..checker.run import diff_states
            ch = diff_states(r.graph.kernel, r.graph.states[s.edge.src], r.graph.states[s.edge.dst])
        out.append(_Lane(len(out) + 1, s.edge.actor, s.edge.actor, label, s.edge.key, s.edge.instance,
                         changes=ch))
    if not r.conforms:
        u = r.unexplained
        nxt = ", ".join(sorted({x.split(" by ")[0] for x in r.could_show
                                if not x.startswith(ev.REAPER_WAKE)})) or "nothing"
        lane = "oom_reaper" if u.what.startswith("reap") else "T0"
        out.append(_Lane(len(out) + 1, lane, lane,
                         f"observed {u.label()}: unexplained (the model shows {nxt})", "bad"))
    return out


def plot_replay(cell, title: str = ""):
    steps = replay_steps(cell)
    bad = steps[-1].n if not cell.replay.conforms else None
    return plot_swimlane(steps, title=title, bad_step=bad)


def plot_calibration(ep: pd.DataFrame, cal) -> Figure:
    """Three fits: timer lateness, reap throughput, exit_mmap throughput."""
    fig = Figure(figsize=(10.5, 3.4))
    a1, a2, a3 = fig.subplots(1, 3)
    ep = ep.copy()
    for c in ("kill_to_wake", "reap_duration", "anon_rss_kb", "kill_to_free",
              "kill_to_exit_start"):
        ep[c] = pd.to_numeric(ep[c], errors="coerce")
    machines = sorted(ep.machine.astype(str).unique())
    colors = dict(zip(machines, ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]))
    w = ep.dropna(subset=["kill_to_wake"])
    for m in machines:
        x = (w[w.machine == m].kill_to_wake - cal.reaper_delay_s) * 1e3
        a1.plot(x, np.full(len(x), machines.index(m)), "o", color=colors[m], ms=5, label=m)
    p = cal.get("t_slack")
    if p is not None:
        a1.axvspan(p.lo * 1e3, p.hi * 1e3, color="#cccccc", alpha=0.6, lw=0)
        a1.axvline(p.value * 1e3, color="black", lw=1)
    a1.set_yticks(range(len(machines)))
    a1.set_yticklabels([m.split("-")[0] for m in machines])
    a1.set_xlabel(f"kill -> {ev.WAKE_REAPER} - 2*HZ (ms)")
    a1.set_title("timer lateness t_slack", loc="left", fontsize=9)
    for ax, outcome, col, sym, title in (
            (a2, "reaped", "reap_duration", "B_reap", "reap: start -> finish"),
            (a3, "self-exit", None, "B_exit", "exit_mmap: exit start -> free")):
        d = ep[ep.outcome == outcome].dropna(subset=["anon_rss_kb"])
        y = d[col] if col else d.kill_to_free - d.kill_to_exit_start
        gib = d.anon_rss_kb * 1024 / 2 ** 30
        for m in machines:
            k = d.machine == m
            ax.plot(gib[k], y[k] * 1e3, "o", color=colors[m], ms=4, label=m.split("-")[0])
        q = cal.get(sym)
        if q is not None and np.isfinite(q.value):
            xs = np.linspace(0, max(gib.max(), 0.1), 50)
            t0 = cal.get("reap_t0").value if sym == "B_reap" and cal.get("reap_t0") else 0.0
            ax.plot(xs, (t0 + xs * 2 ** 30 / q.value) * 1e3, color="black", lw=1,
                    label=f"{q.value / 2 ** 30:.2f} GiB/s")
        ax.set_xlabel("anon RSS at the kill (GiB)")
        ax.set_ylabel("ms")
        ax.set_title(f"{title} ({sym}, Theil-Sen)", loc="left", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
