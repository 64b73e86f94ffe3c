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
    if any(_lane(s) != s.actor for s in steps):
        out.append("  (in the swimlane, <fn> in a thread's lane is IO that belongs to it)")
    return "\n".join(out)


def _lane(s) -> str:
    return getattr(s, "lane", "") or s.actor


def lanes_of(steps) -> list:
    seen = {_lane(s) for s in steps}
    return [a for a in LANE_ORDER if a in seen] + sorted(seen - set(LANE_ORDER))


#: what each lane of a swimlane stands for (the key printed under it)
LANE_KEY = {
    "T0": "the OOM victim (its first thread)",
    "T1": "the OOM victim's second thread",
    "T2": "the OOM victim's third thread",
    "A": "a task whose allocation invokes the OOM killer",
    "oom_reaper": "the oom_reaper kthread",
    "timer": "timers (OOM_REAPER_DELAY, freezer and disable timeouts)",
    "kworker": "a kworker (the async __mmput of mmput_async)",
    "rcu": "an RCU callback",
    "pm": "suspend: freeze_processes -> oom_killer_disable",
    "IO": "the block layer completing the victim's AIO",
    "lock_holder": "another task holding the victim's mmap_lock",
}
MARK_BAD, MARK_KEY, MARK_LOOP = "!", ">", "*"
_CHANGE = __import__("re").compile(r"^([A-Za-z0-9_.]+)=(.*?)->(.*)$")


def _changes(st) -> dict:
    out = {}
    for c in st.changes:
        m = _CHANGE.match(c)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def key_steps(steps) -> dict:
    """The steps a counterexample turns on, each with a one-line note:
    a remote ``exit_oom_victim``, a reap that unmaps nothing, MMF_OOM_SKIP
    set while the victim's memory is still mapped (and where the victim
    is), ``oom_killer_disable()`` returning, a second victim selected."""
    notes = {}
    seen = {"mem": "mapped", "tpc": "-", "town": "-", "mm_users": "?"}
    for st in steps:
        ch = _changes(st)
        where = (f"{seen['town']} waits in {seen['tpc']}"
                 if seen["town"] not in ("-", "") and seen["tpc"] not in ("-", "") else "")
        msg = []
        if not st.actor.startswith("T"):
            for k, (a, b) in ch.items():
                if k.endswith(".TIF_MEMDIE") and a == "1" and b == "0":
                    t = k.split(".")[0]
                    v = ch.get("oom_victims")
                    msg.append(f"{st.actor} calls exit_oom_victim({t}) remotely: TIF_MEMDIE "
                               f"cleared" + (f", oom_victims {v[0]}->{v[1]}" if v else ""))
        if st.actor == "oom_reaper" and ch.get("rpc") == ("attempt", "done"):
            why = "mmget_not_zero fails, mm_users = 0" if seen["mm_users"] == "0" else "nothing to unmap"
            msg.append(f"{st.function} unmaps nothing ({why})" + (f" while {where}" if where else ""))
        if "mmf" in ch and "MMF_OOM_SKIP" in ch["mmf"][1] and "MMF_OOM_SKIP" not in ch["mmf"][0] \
                and seen["mem"] == "mapped" and ch.get("mem", ("", "mapped"))[1] == "mapped":
            msg.append("MMF_OOM_SKIP set, the victim's memory still mapped"
                       + (f" ({where})" if where else ""))
        if st.key == "oom_killer_disable_return":
            msg.append("oom_killer_disable() returns true: suspend goes on")
        if ch.get("w_killed", ("", ""))[1] == "1":
            msg.append(f"{st.function} kills W, a second victim"
                       + (", while the first one's memory is mapped" if seen["mem"] == "mapped" else ""))
        if _lane(st) != st.actor and st.actor == "IO":
            msg.append(f"{_lane(st)}'s IO completes ({st.function}) and {_lane(st)} runs on")
        if msg:
            notes[st.n] = "; ".join(msg)
        for k in ("mem", "tpc", "town", "mm_users"):
            if k in ch:
                seen[k] = ch[k][1]
    return notes


def _chunks(label: str, room: int) -> list:
    """Split ``label`` into pieces of at most ``room`` columns, after a '_',
    ':', '=' or '(' where possible, so that it stays in its lane."""
    out = []
    while len(label) > room:
        cut = max((i + 1 for i, c in enumerate(label[:room]) if c in "_:=(" and i > 0), default=room)
        out.append(label[:cut])
        label = label[cut:]
    return out + [label] if label else out


def swimlane(steps, width: int = WIDTH, *, bad: int | None = None, key: bool = False) -> str:
    """One lane per actor, kernel function names on the steps, <= ``width``
    columns; a long name wraps inside its own lane. ``bad``: the step that
    violates the property (marked ``!``); steps a counterexample turns on
    (:func:`key_steps`) are marked ``>``, a fair cycle ``*``. ``key``: add
    the key (lanes, marks, the marked steps' notes) under the lanes."""
    lanes = lanes_of(steps)
    if not lanes:
        return ""
    num = 5
    lw = max(8, (width - num) // len(lanes))
    col = {a: num + i * lw for i, a in enumerate(lanes)}
    notes = key_steps(steps)
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
        mark = MARK_BAD if s.n == bad else MARK_KEY if s.n in notes else MARK_LOOP if s.loop else " "
        lane = _lane(s)
        name = s.function
        if s.key == "exit_oom_victim":
            name += "()"
        if lane != s.actor:
            name = f"<{name}>"          # an IO completion that belongs to this thread
        for i, piece in enumerate(_chunks(name, lw - 1)):
            line = f"{s.n:3d}{mark} " if i == 0 else " " * num
            for a in lanes:
                if a == lane:
                    break
                line = line.ljust(col[a]) + "|"
            rows.append((line.ljust(col[lane]) + piece).rstrip())
    if key:
        rows.append("")
        rows += _key(lanes, steps, notes, bad, width)
    return "\n".join(rows)


def _key(lanes, steps, notes, bad, width) -> list:
    out = ["Lanes:"]
    for a in lanes:
        out += textwrap.wrap(f"{a:<11} {LANE_KEY.get(a, a)}", width, initial_indent="  ",
                             subsequent_indent=" " * 14)
    if any(_lane(s) != s.actor for s in steps):
        out += textwrap.wrap("<fn> in a thread's lane: the IO of that thread completes", width,
                             initial_indent="  ", subsequent_indent="    ")
    out.append("Marks:")
    for n in sorted(set(notes) | ({bad} if bad else set())):
        m = MARK_BAD if n == bad else MARK_KEY
        text = notes.get(n, "")
        if n == bad:
            text = "the violation" + (": " + text if text else "")
        out += textwrap.wrap(f"{n:3d}{m} {text}", width, initial_indent="  ", subsequent_indent="       ")
    if any(s.loop for s in steps):
        out.append(f"  {MARK_LOOP}    the fair cycle that repeats forever")
    return out


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
