"""Tables and figures of the interleaving checker for notebooks/01.

Everything here is deterministic: no timings or rates (those vary between
runs and belong to ``oomnb bench check``).  Figures are plain
``matplotlib.figure.Figure`` objects (not pyplot), so a notebook shows
each exactly once: as the value of ``report.figure(...)``.
"""

from __future__ import annotations

import functools

from matplotlib.figure import Figure
import pandas as pd

from ..kernel.properties import PROPERTIES
from ..kernel.scenario import STANDARD, parse_scenario
from ..kernel.versions import VERSIONS, load_kernel
from .render import lanes_of, verdict_table
from .run import check, compare_oracle, load_oracle

VERSION_ORDER = ("v4.5", "v4.8", "v4.9", "v6.18")


@functools.lru_cache(maxsize=None)
def run_standard(mode: str = "standard") -> tuple:
    """check() of every standard scenario x version: ((scenario, {version: Result}), ...)."""
    out = []
    for sc in STANDARD:
        out.append((sc, {v: check(VERSIONS[v], sc, mode=mode) for v in VERSION_ORDER}))
    return tuple(out)


def result(version: str, scenario: str, mode: str = "standard"):
    sc = parse_scenario(scenario)
    for s, rs in run_standard(mode):
        if s == sc and version in rs:
            return rs[version]
    return _check_named(version, scenario, mode)


@functools.lru_cache(maxsize=None)
def _check_named(version: str, scenario: str, mode: str = "standard"):
    return check(load_kernel(version), parse_scenario(scenario), mode=mode)


def df_verdicts(mode: str = "standard") -> pd.DataFrame:
    """Verdicts: rows (scenario, property), columns versions."""
    rows = []
    for sc, rs in run_standard(mode):
        for p in PROPERTIES:
            row = {"scenario": sc.label, "property": p.name}
            for v in VERSION_ORDER:
                row[v] = rs[v].verdicts[p.name].short
            rows.append(row)
    return pd.DataFrame(rows).set_index(["scenario", "property"])


def df_oracle() -> pd.DataFrame:
    """Per scenario x version: does exploration match the stored oracle?"""
    oracle = load_oracle()
    rows = []
    for sc, rs in run_standard():
        row = {"scenario": sc.label}
        for v in VERSION_ORDER:
            c = compare_oracle(rs[v], oracle)
            bad = [p for p, x in c.items() if x != "ok"]
            row[v] = "match" if not bad else "differs: " + ",".join(bad)
        rows.append(row)
    return pd.DataFrame(rows).set_index("scenario")


def df_state_space() -> pd.DataFrame:
    """States, transitions and depth per scenario and version (no seconds)."""
    rows = []
    for sc, rs in run_standard():
        for v in VERSION_ORDER:
            r = rs[v]
            rows.append({"scenario": sc.label, "version": v, "states": r.states,
                         "transitions": r.transitions, "depth": r.depth})
    return pd.DataFrame(rows).set_index(["scenario", "version"])


def df_bounds() -> pd.DataFrame:
    """Bounds reported with oom_progress and pm_progress (max reaper attempts /
    timer expiries before the predicate stops holding)."""
    rows = []
    for sc, rs in run_standard():
        for v in VERSION_ORDER:
            for p in ("oom_progress", "pm_progress"):
                vd = rs[v].verdicts[p]
                if vd.verdict != "holds" or not vd.bound:
                    continue
                row = {"scenario": sc.label, "version": v, "property": p}
                for kind in ("attempt", "timer", "pm_timer", "sleep"):
                    x = vd.bound.get(kind, "-")
                    row[kind] = "unbounded" if x is None else str(x)
                rows.append(row)
    return pd.DataFrame(rows).set_index(["scenario", "version", "property"])


def df_fairness_change(scenario: str = "aio-blocked+suspend+second-oom") -> pd.DataFrame:
    """Verdicts that change when oom_lock is only weakly fair."""
    sc = parse_scenario(scenario)
    rows = []
    for v in VERSION_ORDER:
        a = check(VERSIONS[v], sc)
        b = check(VERSIONS[v], sc, mode="weak-oom_lock")
        for p in a.verdicts:
            if a.verdicts[p].verdict != b.verdicts[p].verdict:
                rows.append({"version": v, "property": p, "strong oom_lock": a.verdicts[p].short,
                             "weak oom_lock": b.verdicts[p].short})
    return pd.DataFrame(rows)


def verdict_text(scenario: str = "aio-blocked+suspend+second-oom") -> str:
    """The 72-column verdict table of one scenario (for the writeup)."""
    sc = parse_scenario(scenario)
    rs = next(r for s, r in run_standard() if s == sc)
    return verdict_table(rs, list(VERSION_ORDER), [p.name for p in PROPERTIES], cw=11)


# --- the suspend properties and the 6.18 finding -----------------------------

SUSPEND_PROPS = ("disable_contract[tif]", "disable_contract[group]", "suspend_exclusion[tif]",
                 "suspend_exclusion[group]", "disable_contract[do_exit]",
                 "suspend_exclusion[do_exit]")
FINDING_VERSIONS = ("v6.12", "v6.18", "v6.18+group-oom-victims", "v6.18+tif-exempt")
FINDING_SCENARIOS = ("dstate-thread+suspend", "aio-blocked+suspend+second-oom+threads=2",
                     "cgroup-frozen+threads=2")


def df_scopes(scenario: str = "aio-blocked+suspend+second-oom+threads=2",
              versions=("v4.5", "v4.8-no74070542099c", "v4.8", "v4.9", "v6.12", "v6.18")):
    """The suspend properties per version: readings [tif]/[group] up to the
    end of exit_mm, and [do_exit] (group reading, up to exit_task_work)."""
    rows = []
    for p in SUSPEND_PROPS:
        row = {"property": p}
        for v in versions:
            row[v] = result(v, scenario).verdicts[p].short
        rows.append(row)
    return pd.DataFrame(rows).set_index("property")


def df_finding() -> pd.DataFrame:
    """6.12, 6.18 and the candidate fixes: suspend properties and
    frozen_sibling_exit (what 6.18 fixed) per scenario."""
    rows = []
    for sc in FINDING_SCENARIOS:
        for p in SUSPEND_PROPS + ("frozen_sibling_exit", "oom_victims_accounting"):
            row = {"scenario": parse_scenario(sc).label, "property": p}
            for v in FINDING_VERSIONS:
                row[v] = result(v, sc).verdicts[p].short
            rows.append(row)
    return pd.DataFrame(rows).set_index(["scenario", "property"])


def diff_text(a: str = "v6.12", b: str = "v6.18", scenario: str = "dstate-thread+suspend") -> str:
    """What ``oomnb check --diff A B --scenario S`` prints: flags, then the
    properties whose verdict changes."""
    ka, kb = load_kernel(a), load_kernel(b)
    lines = [f"Diff {a} -> {b} (flags): " + ", ".join(
        f"{f}: {x}->{y}" for f, (x, y) in ka.diff(kb).items())]
    ra, rb = result(a, scenario), result(b, scenario)
    for p in ra.verdicts:
        if ra.verdicts[p].verdict != rb.verdicts[p].verdict:
            lines.append(f"  {ra.scenario.key:25s} {p:24s} {ra.verdicts[p].short} -> "
                         f"{rb.verdicts[p].short}")
    return "\n".join(lines)


def finding_text() -> str:
    """The 6.18 finding as plain text (writeup block): diff, counterexample,
    candidate fixes."""
    from .render import swimlane
    ce = result("v6.18", "dstate-thread+suspend").verdicts["suspend_exclusion[group]"].steps
    short = ("v6.12", "v6.18", "fix A", "fix B")
    rows = [f"{'':26s}" + "".join(f"{v:>11s}" for v in short)]
    for sc in ("dstate-thread+suspend", "cgroup-frozen+threads=2"):
        for p in ("suspend_exclusion[group]", "suspend_exclusion[do_exit]",
                  "frozen_sibling_exit"):
            rows.append(f"{p[:26]:26s}" + "".join(
                f"{result(v, sc).verdicts[p].short:>11s}" for v in FINDING_VERSIONS))
        rows.append(f"  ({parse_scenario(sc).label})")
    return (diff_text() + "\n\nv6.18 suspend_exclusion[group], dstate-thread+suspend,\n"
            "shortest counterexample:\n\n" + swimlane(ce) + "\n\nCandidate fixes "
            "(A: v6.18+group-oom-victims, B: v6.18+tif-exempt):\n\n" + "\n".join(rows))


LANE_COLORS = {"A": "#E69F00", "oom_reaper": "#0072B2", "pm": "#CC79A7", "IO": "#999999",
               "timer": "#56B4E9", "kworker": "#009E73", "rcu": "#009E73",
               "lock_holder": "#999999"}


def plot_swimlane(steps, title: str = "", bad_step: int | None = None, lanes=None):
    """A counterexample as a swimlane: one lane per actor (columns), time
    downwards, each step labelled with its kernel function."""
    if lanes is None:
        lanes = lanes_of(steps)
    else:
        lanes = list(lanes) + [a for a in lanes_of(steps) if a not in lanes]
    n = len(steps)
    fig = Figure(figsize=(7.0, 0.32 * n + 1.2))
    ax = fig.subplots()
    for j, a in enumerate(lanes):
        ax.plot([j, j], [0.5, n + 0.5], color="#cccccc", lw=1, zorder=0)
    prev = None
    for st in steps:
        lane = st.lane or st.actor
        j = lanes.index(lane)
        y = st.n
        color = LANE_COLORS.get(lane, "#444444")
        if bad_step is not None and st.n == bad_step:
            color = "#D55E00"
        ax.plot([j], [y], "o", color=color, ms=6, zorder=3)
        label = st.function
        if lane != st.actor:
            label = f"{label} ({st.actor})"
        if st.key == "oom_killer_disable_return":
            label += "  <- returns true"
        ax.text(j + 0.08, y, f"{st.n}. {label}", va="center", ha="left", fontsize=7.5,
                color="black" if color != "#D55E00" else "#D55E00")
        if prev is not None:
            ax.plot([prev[0], j], [prev[1], y], color="#888888", lw=0.6, zorder=1)
        prev = (j, y)
    ax.set_xticks(range(len(lanes)))
    ax.set_xticklabels(lanes)
    ax.xaxis.tick_top()
    ax.set_xlim(-0.3, len(lanes) - 0.2 + 1.2)
    ax.set_ylim(n + 0.8, 0.2)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", pad=22)
    fig.tight_layout()
    return fig


def plot_state_space():
    """States and transitions per standard scenario and version (log scale)."""
    df = df_state_space().reset_index()
    scen = list(dict.fromkeys(df["scenario"]))
    fig = Figure(figsize=(7.0, 3.4))
    ax = fig.subplots()
    width = 0.2
    colors = {"v4.5": "#999999", "v4.8": "#D55E00", "v4.9": "#0072B2", "v6.18": "#009E73"}
    for k, v in enumerate(VERSION_ORDER):
        sub = df[df["version"] == v].set_index("scenario").loc[scen]
        xs = [i + (k - 1.5) * width for i in range(len(scen))]
        ax.bar(xs, sub["states"], width, color=colors[v], label=v)
    ax.set_yscale("log")
    ax.set_ylabel("distinct states")
    ax.set_xticks(range(len(scen)))
    ax.set_xticklabels([s.replace("+", "+\n").replace(" (", "\n(") for s in scen], fontsize=7)
    ax.legend(ncol=4, loc="upper right")
    fig.tight_layout()
    return fig
