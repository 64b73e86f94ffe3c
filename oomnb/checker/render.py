"""Text output: herd7-style verdict lines, TLC-style statistics, numbered
counterexample steps and a 72-column ASCII swimlane."""

from __future__ import annotations

import textwrap

WIDTH = 72
LANE_ORDER = ["T0", "T1", "T2", "A", "oom_reaper", "timer", "kworker", "rcu", "pm", "IO",
              "lock_holder"]

FAIRNESS_TEXT = {
    "standard": ("weak: thread steps not blocked on IO/lock/freezer, oom_reaper, kworker, "
                 "timers (OOM_REAPER_DELAY, disable and freezer timeouts); strong: acquiring "
                 "oom_lock and the mmap lock; none: IO completion, release of a lock held "
                 "forever, start of suspend, a victim's own OOM call"),
    "weak-oom_lock": ("as standard, except that acquiring oom_lock is only weakly fair "
                      "(a retrying allocator may starve the reaper's mutex_lock)"),
}


def verdict_line(result, v, oracle: str | None = None) -> str:
    """``Test v4.8 aio-blocked+suspend+second-oom/1t pm_exclusion[tif] Violated``."""
    word = {"holds": "Ok", "violated": "Violated", "vacuous": "Ok (vacuous)",
            "out-of-scope": "Out-of-scope"}[v.verdict]
    obs = {"holds": "Never", "violated": "Sometimes", "vacuous": "Never",
           "out-of-scope": "-"}[v.verdict]
    line = f"Test {result.kernel.name} {result.scenario.key} {v.prop} {word}"
    extra = [f"Observation {obs}"]
    if v.steps:
        extra.append(f"{len(v.steps)} steps")
    if v.bound:
        extra.append("bound " + ",".join(f"{k}={'inf' if x is None else x}"
                                          for k, x in v.bound.items()))
    if v.note and v.verdict != "violated":
        extra.append(v.note)
    if oracle and oracle != "no-oracle":
        extra.append(f"oracle {oracle}")
    return line + " (" + "; ".join(extra) + ")"


def stats(result, rates: bool = True) -> str:
    """TLC-style statistics lines."""
    lines = [f"{result.generated} states generated, {result.states} distinct states found, "
             f"0 states left on queue.",
             f"{result.transitions} distinct transitions. The depth of the complete state graph "
             f"search is {result.depth}."]
    if rates:
        rate = result.states / result.seconds if result.seconds else 0
        lines.append(f"Finished in {result.seconds:.2f}s ({rate:.0f} states/s).")
    return "\n".join(textwrap.fill(x, WIDTH) for x in lines)


def steps_text(steps) -> str:
    out = []
    for s in steps:
        head = f"{s.n:3d}{'*' if s.loop else ' '} {s.actor:<11} {s.function}"
        if s.instance is not None and s.actor == "timer":
            head += f"(T{s.instance})"
        ch = ", ".join(s.changes) if s.changes else "(no change)"
        body = textwrap.wrap(ch, WIDTH - 8)
        out.append(head)
        out += ["        " + b for b in body]
    if any(s.loop for s in steps):
        out.append("  (* = the fair cycle that repeats forever)")
    return "\n".join(out)


def _lane(s) -> str:
    return getattr(s, "lane", "") or s.actor


def lanes_of(steps) -> list:
    seen = {_lane(s) for s in steps}
    return [a for a in LANE_ORDER if a in seen] + sorted(seen - set(LANE_ORDER))


def swimlane(steps, width: int = WIDTH) -> str:
    """One lane per actor, kernel function names on the steps, <= 72 columns."""
    lanes = lanes_of(steps)
    if not lanes:
        return ""
    num = 4
    lw = max(8, (width - num) // len(lanes))
    col = {a: num + i * lw for i, a in enumerate(lanes)}
    rows = []
    hdr = " " * num
    for a in lanes:
        hdr = hdr.ljust(col[a]) + a[:lw - 1]
    rows.append(hdr.rstrip())
    sep = " " * num
    for a in lanes:
        sep = sep.ljust(col[a]) + "-" * (lw - 1)
    rows.append(sep.rstrip()[:width])
    for s in steps:
        line = f"{s.n:3d}{'*' if s.loop else ' '}"
        lane = _lane(s)
        for a in lanes:
            if a == lane:
                break
            line = line.ljust(col[a]) + "|"
        name = s.function
        if s.key == "exit_oom_victim":
            name += "()"
        start = col[lane]
        if start + len(name) > width:
            start = max(len(line.rstrip()) + 1, width - len(name))
        line = line.ljust(start) + name
        rows.append(line[:width].rstrip())
    return "\n".join(rows)


def verdict_table(results, versions, props, oracle_cmp=None, cw: int = 11) -> str:
    """Rows = properties, columns = versions; ``=``/``!`` marks the oracle."""
    w0 = max(len(p) for p in props) + 1
    cw = max(cw, max((len(v) for v in versions), default=0) + 2)
    head = "property".ljust(w0) + "".join(v.ljust(cw) for v in versions)
    lines = [head.rstrip(), "-" * min(WIDTH, len(head.rstrip()))]
    for p in props:
        row = p.ljust(w0)
        for v in versions:
            r = results.get(v)
            if r is None or p not in r.verdicts:
                row += "-".ljust(cw)
                continue
            cell = r.verdicts[p].short
            if oracle_cmp is not None:
                o = oracle_cmp.get(v, {}).get(p)
                cell += {"ok": " =", None: "", "no-oracle": " ?"}.get(o, " !")
            row += cell.ljust(cw)
        lines.append(row.rstrip())
    return "\n".join(lines)


def race_notes(steps) -> list:
    """One-line facts about the orderings a counterexample depends on."""
    notes = []
    first = {}
    for st in steps:
        first.setdefault((st.actor, st.key), st.n)
    attempt = min((n for (a, k), n in first.items() if k == "reap_attempt"), default=None)
    for (a, k), n in sorted(first.items(), key=lambda x: x[1]):
        if k == "exit_mm" and attempt is not None and n < attempt:
            notes.append(f"race: {a} passed exit_mm (step {n}, tsk->mm = NULL) before the "
                         f"reaper's first attempt (step {attempt}).")
    for st in steps:
        if st.key == "oom_reap_task" and any(c.startswith("T") and "TIF_MEMDIE=1->0" in c
                                             for c in st.changes):
            notes.append(f"step {st.n}: the oom_reaper clears TIF_MEMDIE remotely "
                         f"(exit_oom_victim(tsk), v4.8).")
            break
    for st in steps:
        if st.key == "oom_killer_disable_return":
            notes.append(f"step {st.n}: oom_killer_disable() returns true; the victim steps "
                         f"after it are the violation.")
            break
    for st in steps:
        if st.key == "reap_attempt" and not st.changes[:0] and \
                any(c.startswith("rpc=attempt->done") for c in st.changes):
            notes.append(f"step {st.n}: the reap attempt unmaps nothing and reports success "
                         f"(no thread with ->mm in v4.8 / mmget_not_zero fails in v4.9 / "
                         f"MMF_OOM_SKIP already set in v6.x).")
            break
    return notes
