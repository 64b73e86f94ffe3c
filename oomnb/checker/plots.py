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

from ..errors import OomnbError
from ..kernel.properties import PROPERTIES
from ..kernel.scenario import STANDARD, parse_scenario
from ..kernel.versions import ALL, load_kernel
from .render import lanes_of, verdict_table
from .run import check, compare_oracle, load_oracle

#: the versions of the post's text (its 72-column tables)
VERSION_ORDER = ("v4.5", "v4.8", "v4.9", "v6.18")
#: every named version, oldest first: the four above and the LTS kernels (notebook tables, figures)
TABLE_ORDER = tuple(ALL)


@functools.lru_cache(maxsize=None)
def run_standard(mode: str = "standard") -> tuple:
    """check() of every standard scenario x named version (standard and LTS):
    ((scenario, {version: Result}), ...)."""
    out = []
    for sc in STANDARD:
        out.append((sc, {v: check(ALL[v], sc, mode=mode) for v in TABLE_ORDER}))
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
            for v in TABLE_ORDER:
                row[v] = rs[v].verdicts[p.name].short
            rows.append(row)
    return pd.DataFrame(rows).set_index(["scenario", "property"])


def df_oracle() -> pd.DataFrame:
    """Per scenario x version: does exploration match the stored oracle?"""
    oracle = load_oracle()
    rows = []
    for sc, rs in run_standard():
        row = {"scenario": sc.label}
        for v in TABLE_ORDER:
            c = compare_oracle(rs[v], oracle)
            bad = [p for p, x in c.items() if x != "ok"]
            row[v] = "match" if not bad else "differs: " + ",".join(bad)
        rows.append(row)
    return pd.DataFrame(rows).set_index("scenario")


def df_state_space() -> pd.DataFrame:
    """States, transitions and depth per scenario and version (no seconds)."""
    rows = []
    for sc, rs in run_standard():
        for v in TABLE_ORDER:
            r = rs[v]
            rows.append({"scenario": sc.label, "version": v, "states": r.states,
                         "transitions": r.transitions, "depth": r.depth})
    return pd.DataFrame(rows).set_index(["scenario", "version"])


def df_bounds() -> pd.DataFrame:
    """Bounds reported with oom_progress and pm_progress (max reaper attempts /
    timer expiries before the predicate stops holding)."""
    rows = []
    for sc, rs in run_standard():
        for v in TABLE_ORDER:
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
    for v in TABLE_ORDER:
        a = check(ALL[v], sc)
        b = check(ALL[v], sc, mode="weak-oom_lock")
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


# --- how many victim threads the verdicts need -----------------------------------

#: scenarios explored with 1 (where the scenario allows it), 2 and 3 victim threads
THREAD_SCENARIOS = ("aio-blocked+suspend+second-oom", "dstate-thread+suspend",
                    "dstate-thread+second-oom")
THREAD_COUNTS = (1, 2, 3)


def _thread_runs(scenario: str) -> dict:
    """{threads: {version: Result}} for the thread counts the scenario allows."""
    out = {}
    for n in THREAD_COUNTS:
        try:
            sc = parse_scenario(scenario, n)
        except OomnbError:          # dstate-thread needs two threads
            continue
        out[n] = {v: result(v, sc.key) for v in TABLE_ORDER}
    return out


def _changes(a, b) -> list:
    """(property, verdict in a, verdict in b) where two results disagree."""
    return [(p, a.verdicts[p].short, b.verdicts[p].short) for p in b.verdicts
            if p in a.verdicts and a.verdicts[p].verdict != b.verdicts[p].verdict]


def df_thread_counts() -> pd.DataFrame:
    """Per scenario and version: the states explored with each thread count and the
    verdicts that change from one count to the next (every property of the scenario)."""
    rows = []
    for key in THREAD_SCENARIOS:
        runs = _thread_runs(key)
        for v in TABLE_ORDER:
            row = {"scenario": key, "version": v}
            for n in THREAD_COUNTS:
                row[f"states {n}t"] = runs[n][v].states if n in runs else None
            for a, b in zip(THREAD_COUNTS, THREAD_COUNTS[1:]):
                if a not in runs or b not in runs:
                    row[f"{a}t -> {b}t"] = "n/a"
                    continue
                ch = _changes(runs[a][v], runs[b][v])
                row[f"{a}t -> {b}t"] = "; ".join(f"{p} {x} -> {y}" for p, x, y in ch) or "-"
            rows.append(row)
    df = pd.DataFrame(rows).set_index(["scenario", "version"])
    return df[[c for c in df.columns if c.startswith("states")]
              + [c for c in df.columns if not c.startswith("states")]].astype(
                  {f"states {n}t": "Int64" for n in THREAD_COUNTS})


def thread_counts_text() -> str:
    """The thread-count comparison in prose (for the writeup), read off the runs."""
    pairs, same23, biggest, ones = 0, 0, 0, []
    for key in THREAD_SCENARIOS:
        runs = _thread_runs(key)
        for v in TABLE_ORDER:
            pairs += 1
            same23 += not _changes(runs[2][v], runs[3][v])
            biggest = max(biggest, runs[3][v].states)
            if 1 in runs:
                ones += [f"{v} {key}: {p} {x} -> {y}" for p, x, y in _changes(runs[1][v], runs[2][v])]
    n23 = pairs - same23
    lines = [_wrap(f"The {len(THREAD_SCENARIOS)} standard scenarios that can have several victim "
                   f"threads were also explored with 3 threads, in all {len(TABLE_ORDER)} versions "
                   f"(up to {biggest:,} states). Going from 2 to 3 threads changes "
                   + ("no verdict." if not n23 else f"verdicts in {n23} of {pairs} cases."))]
    if ones:
        lines.append("")
        lines.append(_wrap("The second thread changes these (one thread -> two threads):"))
        lines += [_wrap(x, "  ", "    ") for x in ones]
    return "\n".join(lines)


# --- mechanisms outside the standard set ---------------------------------------

#: the proposal on 6.18 shown next to the named versions in the mechanisms table
PROPOSALS = ("v6.18+robust-futex-delay",)
MECH_ORDER = TABLE_ORDER + PROPOSALS


@functools.lru_cache(maxsize=None)
def run_mechanisms() -> tuple:
    """check() of every mechanism scenario x named version and proposal, with the
    extra properties: ((scenario, {version: Result}), ...)."""
    from ..kernel.properties import EXTRA, scenario_properties
    from .oracle import MECH_SCENARIOS
    out = []
    for key in MECH_SCENARIOS:
        sc = parse_scenario(key)
        props = PROPERTIES + EXTRA + scenario_properties(sc)
        out.append((sc, {v: check(load_kernel(v), sc, props) for v in MECH_ORDER}))
    return tuple(out)


def df_mechanisms(all_rows: bool = False) -> pd.DataFrame:
    """Verdicts of the mechanism scenarios: rows (scenario, property), columns
    versions; only the properties violated in some version unless ``all_rows``;
    the last column says whether every named version matches the stored oracle
    (the proposal has none)."""
    oracle = load_oracle()
    rows = []
    for sc, rs in run_mechanisms():
        same = all(all(x == "ok" for x in compare_oracle(rs[v], oracle).values()) for v in TABLE_ORDER)
        for p in next(iter(rs.values())).verdicts:
            cells = {v: rs[v].verdicts[p].short for v in MECH_ORDER}
            if all_rows or "VIOLATED" in cells.values():
                rows.append({"scenario": sc.label, "property": p, **cells,
                             "oracle": "match" if same else "differs"})
    return pd.DataFrame(rows).set_index(["scenario", "property"])


def mechanisms_text() -> str:
    """The post's paragraph on the mechanisms: what each scenario asks, and
    which properties it violates in which versions (read off the verdicts)."""
    from .oracle import MECHANISMS
    out = [_wrap("Beyond the standard scenarios, each of these mechanisms was explored in every "
                 f"version ({_list(TABLE_ORDER)}) and in the 2025 proposal to delay the reaper only for a "
                 f"process with robust futexes ({_list(PROPOSALS)}); a property is listed where "
                 "some version violates it.")]
    for sc, rs in run_mechanisms():
        lines = [_wrap(f"{sc.key}: {_cite_ids(MECHANISMS[sc.key])}.", "- ", "  ")]
        for p in next(iter(rs.values())).verdicts:
            bad = [v for v in MECH_ORDER if rs[v].verdicts[p].verdict == "violated"]
            if bad:
                ok = [v for v in MECH_ORDER if rs[v].verdicts[p].verdict == "holds"]
                lines.append(_wrap(f"{p}: violated in {_list(bad)}"
                                   + (f"; holds in {_list(ok)}" if ok else "") + ".", "    ", "      "))
        out.append("\n".join(lines))
    return "\n\n".join(out)


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
    lines = [_wrap(f"Diff {a} -> {b} (flags): " + ", ".join(
        f"{f}: {x}->{y}" for f, (x, y) in ka.diff(kb).items()), "", "    ")]
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
BAD_COLOR = "#D55E00"


def plot_swimlane(steps, title: str = "", bad_step: int | None = None, lanes=None):
    """A counterexample as a swimlane: one lane per actor (columns), time
    downwards, each step labelled with its kernel function; the violating
    step (``bad_step``, "!") and the steps the counterexample turns on
    (:func:`render.key_steps`, ">") are marked and explained under the lanes,
    together with what each lane stands for."""
    import textwrap

    from .render import LANE_KEY, MARK_BAD, MARK_KEY, key_steps

    if lanes is None:
        lanes = lanes_of(steps)
    else:
        lanes = list(lanes) + [a for a in lanes_of(steps) if a not in lanes]
    notes = key_steps(steps)
    marked = sorted(set(notes) | ({bad_step} if bad_step else set()))
    n = len(steps)
    key_lines = []
    for a in lanes:
        key_lines.append(f"{a}: {LANE_KEY.get(a, a)}")
    for k in marked:
        m = MARK_BAD if k == bad_step else MARK_KEY
        txt = ("the violation: " if k == bad_step else "") + notes.get(k, "")
        key_lines += textwrap.wrap(f"{k}{m} {txt}".rstrip(": "), 100, subsequent_indent="     ")
    fig = Figure(figsize=(7.2, 0.30 * n + 0.17 * len(key_lines) + 1.0))
    top = 0.30 * n + 0.7
    total = top + 0.17 * len(key_lines) + 0.3
    ax = fig.add_axes((0.02, 1 - top / total, 0.96, (0.30 * n) / total))
    for j, a in enumerate(lanes):
        ax.plot([j, j], [0.5, n + 0.5], color="#cccccc", lw=1, zorder=0)
    # where a thread waits in exit_aio (its __mmput blocked on IO): a grey band in its lane
    owner, since = None, None
    for st in steps + [None]:
        ch = {} if st is None else {c.split("=")[0]: c.split("->")[-1] for c in st.changes if "->" in c}
        if since is not None and (st is None or ch.get("tpc", "exit_aio") != "exit_aio"):
            j = lanes.index(owner) if owner in lanes else None
            end = n + 0.5 if st is None else st.n - 0.5
            if j is not None:
                ax.plot([j, j], [since, end], color="#bbbbbb", lw=7, solid_capstyle="butt", zorder=1)
                ax.text(j - 0.05, (since + end) / 2, "in exit_aio", rotation=90, ha="right", va="center",
                        fontsize=6.5, color="#777777")
            since = None
        if st is not None and ch.get("tpc") == "exit_aio" and since is None:
            owner, since = ch.get("town", st.actor), st.n + 0.5
    for st in steps:
        lane = st.lane or st.actor
        j = lanes.index(lane)
        y = st.n
        color = LANE_COLORS.get(lane, "#444444")
        bad = st.n == bad_step
        key = st.n in notes and not bad
        ax.plot([j], [y], "o", color=BAD_COLOR if bad else color, ms=7 if (bad or key) else 5.5,
                mec="black" if key else None, mew=1.2 if key else 0, zorder=3)
        label = st.function
        if lane != st.actor:
            label = f"<{label}>"
        mark = MARK_BAD if bad else MARK_KEY if key else ""
        ax.text(j + 0.07, y, f"{st.n}{mark} {label}", va="center", ha="left", fontsize=7.5,
                color=BAD_COLOR if bad else "black", fontweight="bold" if (bad or key) else "normal",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.85})
    ax.set_xticks(range(len(lanes)))
    ax.set_xticklabels(lanes, fontweight="bold")
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.3, len(lanes) - 0.1)
    ax.set_ylim(n + 0.6, 0.4)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "bottom", "top"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", pad=20)
    fig.text(0.02, (0.17 * len(key_lines) + 0.15) / total, "\n".join(key_lines), va="top", ha="left",
             fontsize=7, family="DejaVu Sans Mono")
    return fig


#: short column labels of the standard scenarios in the verdict heat map
#: short names of scenario tokens in the verdict matrix's column labels ("" drops the token)
TOKEN_SHORT = {"aio-blocked": "aio", "suspend": "pm", "second-oom": "", "mmap-lock-forever": "lock",
               "dstate-thread": "dstate", "fast-exit": "fast", "memcg-oom": "memcg",
               "oom-group": "group"}
VERDICT_COLORS = {"VIOLATED": "#D55E00", "holds": "#56B4E9", "vacuous": "#E5E5E5", "n/a": "#FFFFFF"}


def _short(label: str) -> str:
    base, _, rest = label.partition(" (")
    th = rest.split(" ")[0]
    toks = [TOKEN_SHORT.get(tok, tok) for tok in base.split("+")]
    return f"{'+'.join(x for x in toks if x) or base}/{th}t"


def plot_verdict_matrix():
    """Every verdict of the standard runs as a heat map: properties (rows)
    against version x scenario (columns, grouped by version)."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    df = df_verdicts()
    scen = list(dict.fromkeys(df.index.get_level_values(0)))
    props = [p.name for p in PROPERTIES]
    order = list(VERDICT_COLORS)
    cols = [(v, sc) for v in TABLE_ORDER for sc in scen]
    grid = np.array([[order.index(df.loc[(sc, p), v]) for v, sc in cols] for p in props])
    fig = Figure(figsize=(max(7.2, 0.2 * len(cols) + 2.6), 4.4))
    ax = fig.subplots()
    ax.imshow(grid, cmap=ListedColormap([VERDICT_COLORS[o] for o in order]), vmin=-0.5,
              vmax=len(order) - 0.5, aspect="auto")
    for i in range(len(props)):
        for j, (v, sc) in enumerate(cols):
            if df.loc[(sc, props[i]), v] == "VIOLATED":
                ax.text(j, i, "x", ha="center", va="center", fontsize=7, color="white", fontweight="bold")
    ax.set_yticks(range(len(props)), props, fontsize=7.5)
    ax.set_xticks(range(len(cols)), [_short(sc) for v, sc in cols], rotation=90, fontsize=6.5)
    for k in range(1, len(TABLE_ORDER)):
        ax.axvline(k * len(scen) - 0.5, color="black", lw=1.2)
    for k, v in enumerate(TABLE_ORDER):
        ax.text((k + 0.5) * len(scen) - 0.5, -0.9, v, ha="center", va="bottom", fontsize=9,
                fontweight="bold")
    ax.set_xticks(np.arange(-0.5, len(cols)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(props)), minor=True)
    ax.grid(which="minor", color="white", lw=0.8)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel("standard scenario (victim threads)")
    ax.legend(handles=[Patch(facecolor=VERDICT_COLORS[o], edgecolor="#999999", label=o) for o in order],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set_title(f"Verdicts of {len(props)} properties, {len(scen)} scenarios, {len(TABLE_ORDER)} versions",
                 loc="left", pad=30)
    return fig


def plot_state_space():
    """States per standard scenario and version (log scale)."""
    df = df_state_space().reset_index()
    scen = list(dict.fromkeys(df["scenario"]))
    fig = Figure(figsize=(7.0, 3.4))
    ax = fig.subplots()
    width = 0.8 / len(TABLE_ORDER)
    colors = dict(zip(TABLE_ORDER, ("#999999", "#D55E00", "#0072B2", "#56B4E9", "#CC79A7", "#E69F00",
                                    "#009E73")))
    for k, v in enumerate(TABLE_ORDER):
        sub = df[df["version"] == v].set_index("scenario").loc[scen]
        xs = [i + (k - (len(TABLE_ORDER) - 1) / 2) * width for i in range(len(scen))]
        ax.bar(xs, sub["states"], width, color=colors[v], label=v)
    ax.set_yscale("log")
    ax.set_ylabel("distinct states (count)")
    ax.set_xticks(range(len(scen)))
    ax.set_xticklabels([s.replace("+", "+\n").replace(" (", "\n(") for s in scen], fontsize=7)
    ax.legend(ncol=4, loc="upper right")
    fig.tight_layout()
    return fig


# --- the post's blocks -----------------------------------------------------------

MAIN = "aio-blocked+suspend+second-oom"
_W = 72


def _wrap(text: str, indent: str = "", sub: str | None = None) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, _W, initial_indent=indent, break_on_hyphens=False,
                                    subsequent_indent=indent if sub is None else sub))


def _violated_in(rs, prop) -> list:
    return [v for v in VERSION_ORDER if rs[v].verdicts[prop].verdict == "violated"]


def _runs(scenario: str):
    sc = parse_scenario(scenario)
    return next(r for s, r in run_standard() if s == sc)


def _list(xs) -> str:
    xs = list(xs)
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


def summary_claims() -> str:
    """The model's main claims for the post's opening, read off the verdicts."""
    one, two = _runs(MAIN), _runs(MAIN + "+threads=2")
    lines = []
    for prop in ("disable_contract[tif]", "no_premature_kill", "reap_progress"):
        vs = _violated_in(one, prop)
        if vs:
            n = len(one[vs[0]].verdicts[prop].steps)
            lines.append(f"- {prop} is violated in {_list(vs)} (shortest counterexample in "
                         f"{vs[0]}: {n} steps) and holds in "
                         f"{_list(v for v in VERSION_ORDER if v not in vs)}.")
    new = [p for p in one[VERSION_ORDER[-1]].verdicts
           if two[VERSION_ORDER[-1]].verdicts[p].verdict == "violated"
           and one[VERSION_ORDER[-1]].verdicts[p].verdict != "violated"]
    cur = VERSION_ORDER[-1]
    held = sum(v.verdict in ("holds", "vacuous") for v in one[cur].verdicts.values())
    lines.append(f"- {cur} keeps {held} of {len(one[cur].verdicts)} properties with a one-thread "
                 f"victim" + (f", but with two victim threads it violates {_list(new)}." if new else "."))
    return "\n".join(_wrap(x, "", "  ") for x in lines)


def _cite_ids(text: str) -> str:
    """Commit ids in ``text`` cited the kernel's way (id and title) where the
    timeline knows them."""
    from .. import history
    from ..report import COMMIT_ID

    def cite(m):
        try:
            return history.cite(m.group(0))
        except KeyError:
            return m.group(0)
    return COMMIT_ID.sub(cite, text)


def property_glossary() -> str:
    """Each property's name and the kernel claim it encodes (for the post)."""
    return "\n".join(_wrap(f"{p.name}: {_cite_ids(p.claim)}", "  ", "    ") for p in PROPERTIES)


def model_text() -> str:
    """The post's model section: what was explored, the verdict table, the
    properties in one line each."""
    one = _runs(MAIN)
    states = {v: one[v].states for v in VERSION_ORDER}
    intro = _wrap(
        "The model is one transition table whose transitions are named after "
        "the kernel functions they stand for (mark_oom_victim, exit_mm, "
        "__oom_reap_task_mm, oom_killer_disable, ...); each version is a small "
        "derivation of it. Actors: the victim's threads T0 (and T1), a task A "
        "whose allocation invokes the OOM killer and may select a second "
        "victim W, the oom_reaper, suspend (pm), the IO that completes the "
        "victim's AIO, timers. Thread steps, the reaper and timers are weakly "
        "fair; taking oom_lock and the mmap lock is strongly fair; IO "
        "completion and the start of suspend are not fair at all.")
    scen = _wrap(
        f"Verdicts for {MAIN} with one victim thread: the victim has AIO in "
        "flight on a device that may never complete it, suspend may start, "
        "and A may invoke the OOM killer again. Every interleaving is "
        "explored (" + ", ".join(f"{v}: {n} states" for v, n in states.items()) + "):")
    table = verdict_text(MAIN)
    legend = _wrap("vacuous: the scenario never reaches the property's premise. "
                   "[tif] and [group] are two readings of 'a victim thread': "
                   "one that has or had TIF_MEMDIE, or any thread of a victim's "
                   "thread group. The properties:")
    return "\n\n".join([intro, scen, table, legend, property_glossary()])


def counterexample_text(version: str, prop: str, intro: str, scenario: str = MAIN) -> str:
    """One counterexample for the post: a sentence, the ASCII swimlane with
    its key and marked steps."""
    from .render import swimlane
    steps = result(version, scenario).verdicts[prop].steps
    head = _wrap(f"{version}, {prop}, {scenario} ({len(steps)} steps). {intro}")
    return head + "\n\n" + swimlane(steps, bad=steps[-1].n if not any(s.loop for s in steps) else None,
                                     key=True)
