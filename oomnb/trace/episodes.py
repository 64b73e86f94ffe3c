"""Per-victim episodes from the events table, clock offsets, outcomes.

See the contract in :mod:`oomnb.trace`. The steps:

1. duplicate log lines (the same printk record in several files, e.g. the
   repeating tails of a data set's ``dmesg.txt``) are marked ``dup`` and used
   once;
2. per file pair (data-set run, or all loose files) the offset
   ``printk - trace`` is estimated from anchor pairs of the same pid
   (``Killed process`` <-> ``mark_victim``, preferred, and
   ``oom_reaper: reaped process`` <-> ``finish_task_reaping``), with its
   spread; it is used only to *match* events across domains, never inside a
   latency;
3. per pid, events are cut into episodes (a new kill of the pid after its
   free, or more than a second after the previous kill, is a new episode; the
   duplicate kill lines of ``memory.oom.group`` are not);
4. times, RSS, header fields, latencies (each within one clock domain) and
   the outcome are derived, with the file:line each value came from.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from .. import events as EV
from .reader import COLUMNS

KILL_KINDS = (EV.MARK_VICTIM, EV.KILLED, EV.OOM_KILL_SUMMARY, EV.ALREADY_EXITING)
REAP_KINDS = (EV.WAKE_REAPER, EV.START_TASK_REAPING, EV.FINISH_TASK_REAPING, EV.SKIP_TASK_REAPING,
              EV.REAPED, EV.REAP_UNABLE_LINE, EV.REAP_GIVING_UP_LINE)
LIFE_KINDS = (EV.SCHED_PROCESS_EXIT, EV.SCHED_PROCESS_FREE, EV.SIGNAL_GENERATE)
SAME_KILL_S = 1.0
JOINED_DROP = 0.25

TIME_COLS = ["signal", "kill", "wake", "reap_start", "reap_finish", "skip", "exit_start", "exit_mm_done", "free"]
EPISODE_COLUMNS = (
    ["machine", "run", "scenario", "limit_bytes", "pid", "episode", "comm", "outcome", "evidence",
     "listed_victim", "clock", "time_unit"]
    + TIME_COLS
    + ["kill_printk", "reaped_printk", "unable_printk", "kill_wall", "offset_s", "offset_anchor",
       "kill_to_wake", "kill_to_reap_start", "reap_duration", "kill_to_exit_start",
       "kill_to_exit_mm_done", "kill_to_free", "reap_finish_to_free", "kill_to_reaped_printk",
       "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "total_vm_kb", "pgtables_kb",
       "anon_rss_after_kb", "file_rss_after_kb", "shmem_rss_after_kb", "uid", "victim_oom_score_adj",
       "invoker_comm", "gfp_mask", "gfp_flags", "order", "oom_score_adj", "nodemask", "constraint",
       "oom_memcg", "task_memcg", "selected_pid", "selected_comm", "score", "reap_attempts",
       "memcg_drop_before_reap", "lost_events", "note", "sources"])
#: episode columns holding whole numbers
INT_COLUMNS = {"limit_bytes", "pid", "episode", "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "total_vm_kb",
               "pgtables_kb", "anon_rss_after_kb", "file_rss_after_kb", "shmem_rss_after_kb", "uid",
               "victim_oom_score_adj", "order", "oom_score_adj", "selected_pid", "score", "reap_attempts"}
OFFSET_COLUMNS = ["machine", "run", "log_clock", "trace_clock", "anchor", "n", "offset_s", "spread_s",
                  "min_s", "max_s"]
#: a missing text value of a column that holds text (a table's column of text keeps NaN for missing)
NA = float("nan")


class Event:
    """One row of the events table (attributes named as :data:`oomnb.trace.reader.COLUMNS`),
    with its position ``Index`` in the table; the episode builder works on these,
    without pandas (the tables are built from them only when asked for)."""

    __slots__ = (*COLUMNS, "Index", "src_idx", "t_ref")

    def __init__(self, values, index):
        for c, v in zip(COLUMNS, values):
            setattr(self, c, v)
        self.Index = index
        self.src_idx = 0
        self.t_ref = math.nan

    @classmethod
    def from_row(cls, row: dict, index: int) -> "Event":
        """From a reader's row (a dict of :data:`COLUMNS`)."""
        return _from_row(cls, row, index)

    def values(self) -> tuple:
        return tuple(getattr(self, c) for c in COLUMNS)


def _make_from_row():
    # one assignment per column, compiled once: five times faster than setattr in a loop
    src = ("def from_row(cls, r, index):\n    e = cls.__new__(cls)\n"
           + "".join(f"    e.{c} = r[{c!r}]\n" for c in COLUMNS)
           + "    e.Index = index\n    e.src_idx = 0\n    e.t_ref = nan\n    return e\n")
    ns = {"nan": math.nan}
    exec(compile(src, "<oomnb.trace.episodes.Event>", "exec"), ns)
    return ns["from_row"]


_from_row = _make_from_row()


def events_from_frame(ev) -> list[Event]:
    """:class:`Event` s of an events DataFrame (as the table shows them: NaN for missing)."""
    cols = [c for c in COLUMNS if c in ev.columns]
    out = []
    for r in ev[cols].itertuples(index=True, name=None):
        vals = dict(zip(cols, r[1:]))
        out.append(Event([vals.get(c) for c in COLUMNS], r[0]))
    return out


def events_frame(events: list[Event]):
    """The events table (:func:`oomnb.trace.df_events`) of ``events``."""
    import pandas as pd
    if not events:
        ev = pd.DataFrame(columns=COLUMNS)
        ev["in_run"] = pd.Series(dtype=bool)
        return ev
    return pd.DataFrame([e.values() for e in events], columns=COLUMNS)


def _median(xs) -> float:
    """The median (the mean of the two middle values of an even count), as
    ``numpy.median`` and ``statistics.median`` give it."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _key(x) -> str:
    """Text keys for grouping, with missing values as ``"None"``."""
    return "None" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def _isnum(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _missing(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def mark_duplicates(events: list[Event]) -> list[Event]:
    """Set ``in_run`` and ``dup`` (in place; returns ``events``).

    ``in_run`` is False for log rows of a data-set run that precede the run's
    trace (aligned with the run's own printk - trace offset): a ``dmesg`` tail
    repeating earlier runs' kills. ``dup`` marks log rows repeating an earlier
    row (same machine, kind, clock, timestamp text, pid and message),
    preferring the copy inside its run."""
    for e in events:
        e.in_run = True
    runs = [e for e in events if not _missing(e.run)]
    if runs:
        off = offsets(runs)
        groups = defaultdict(list)
        for e in runs:
            groups[(_key(e.machine), _key(e.run))].append(e)
        for (machine, run), g in sorted(groups.items()):
            tr = [e for e in g if str(e.clock).startswith("trace:")]
            if not tr:
                continue
            ts = [e.ts for e in tr if _isnum(e.ts)]
            t0 = min(ts) if ts else math.nan
            tc = tr[0].clock
            o = [x for x in off if _key(x["machine"]) == machine and _key(x["run"]) == run
                 and x["trace_clock"] == tc and x["log_clock"] == "printk"]
            if not o:
                continue
            k = [x for x in o if x["anchor"] == "kill"]
            offset = float(_median([x["offset_s"] for x in (k or o)]))
            for e in g:
                if e.clock == "printk" and _isnum(e.ts) and (e.ts - offset) < t0 - 1e-3:
                    e.in_run = False
    cand = [e for e in events if not str(e.clock).startswith("trace:") and not _missing(e.ts_raw)]
    for e in events:
        e.dup = False
    seen = set()
    for e in sorted(cand, key=lambda e: not e.in_run):   # stable: the copy inside its run first
        raw = str(e.raw)
        m = _MSG_START.search(raw)
        msg = raw[m.start():] if m and "\n" not in raw[:m.start()] else raw
        key = (_key(e.machine), e.kind, e.clock, _key(e.ts_raw), _key(e.pid), msg)
        if key in seen:
            e.dup = True
        seen.add(key)
    return events


#: where a log message starts, for comparing repeated lines printed with different prefixes
_MSG_START = re.compile(r"Memory cgroup|Out of memory|Killed|oom_reaper|oom-kill|\S+ invoked")


def _anchor_pairs(sub: list[Event], trace_kind: str, log_kind: str, log_clock: str, trace_clock: str):
    a = [e for e in sub if e.kind == trace_kind and e.clock == trace_clock]
    b = [e for e in sub if e.kind == log_kind and e.clock == log_clock]
    if not a or not b:
        return []
    diffs = []
    for pid in sorted({e.pid for e in a if not _missing(e.pid)}):
        gb = [e.ts for e in b if e.pid == pid]
        for t in (e.ts for e in a if e.pid == pid):
            for u in gb:
                diffs.append((pid, t, u - t))
    if not diffs or any(_missing(d) for _, _, d in diffs):
        return []
    med = float(_median([d for _, _, d in diffs]))
    best = {}
    for pid, t, d in diffs:
        if abs(d - med) < 0.5 and ((pid, t) not in best or abs(d - med) < abs(best[(pid, t)] - med)):
            best[(pid, t)] = d
    return list(best.values())


def offsets(events: list[Event]) -> list[dict]:
    """``log - trace`` offsets per (machine, run) file pair and anchor kind
    (rows of :data:`OFFSET_COLUMNS`)."""
    rows = []
    ev = [e for e in events if e.kind in (EV.MARK_VICTIM, EV.KILLED, EV.FINISH_TASK_REAPING, EV.REAPED)]
    pairs = {}
    for e in ev:
        pairs.setdefault((_key(e.machine), _key(e.run)), []).append(e)
    for (machine, run), sub in pairs.items():
        clocks = {e.clock for e in sub}
        tclocks = sorted(c for c in clocks if str(c).startswith("trace:"))
        lclocks = sorted(c for c in clocks if c == "printk" or c == "wall" or str(c).startswith("reltime:"))
        for tc in tclocks:
            for lc in lclocks:
                for anchor, tk, lk in (("kill", EV.MARK_VICTIM, EV.KILLED), ("reap", EV.FINISH_TASK_REAPING, EV.REAPED)):
                    d = _anchor_pairs(sub, tk, lk, lc, tc)
                    if d:
                        rows.append({"machine": None if machine == "None" else machine,
                                     "run": None if run == "None" else run, "log_clock": lc, "trace_clock": tc,
                                     "anchor": anchor, "n": len(d), "offset_s": float(_median(d)),
                                     "spread_s": float(max(d) - min(d)), "min_s": float(min(d)),
                                     "max_s": float(max(d))})
    return rows


def estimate_offsets(ev):
    """``log - trace`` offsets per (machine, run) file pair and anchor kind, as a
    DataFrame (``ev``: an events DataFrame or :class:`Event` s)."""
    import pandas as pd
    if not isinstance(ev, list):
        ev = events_from_frame(ev)
    if not any(e.kind in (EV.MARK_VICTIM, EV.KILLED, EV.FINISH_TASK_REAPING, EV.REAPED) for e in ev):
        return pd.DataFrame(columns=OFFSET_COLUMNS)
    return pd.DataFrame(offsets(ev), columns=OFFSET_COLUMNS)


def _group_offsets(off: list[dict]):
    """(machine, run, log_clock, trace_clock) -> (offset, anchor) used to match
    events; run ``"*"`` holds the machine's median (for runs without anchors)."""
    out = {}
    groups = defaultdict(list)
    for x in off:
        groups[(_key(x["machine"]), x["log_clock"], x["trace_clock"])].append(x)
    for (m, lc, tc), g in groups.items():
        k = [x for x in g if x["anchor"] == "kill"]
        use = k or g
        out[(m, "*", lc, tc)] = (float(_median([x["offset_s"] for x in use])), "kill" if k else "reap")
        by_run = defaultdict(list)
        for x in g:
            by_run[_key(x["run"])].append(x)
        for r, gr in by_run.items():
            k = [x for x in gr if x["anchor"] == "kill"]
            use = k or gr
            out[(m, r, lc, tc)] = (float(_median([x["offset_s"] for x in use])), "kill" if k else "reap")
    return out


def _offset(goff, machine, run, lc, tc):
    r = "None" if run is None or (isinstance(run, float) and math.isnan(run)) else str(run)
    return goff.get((machine, r, lc, tc)) or goff.get((machine, "*", lc, tc))


def _memcg_drop(ep, mem_by_run, trace_clock):
    """Fraction of the victim's anon RSS the memcg lost between the kill and the
    reaper's start (the victim's own exit_mmap ran before the reaper)."""
    m = mem_by_run.get((str(ep["machine"]), str(ep["run"])))
    if m is None or not _isnum(ep.get("reap_start")) or not _isnum(ep.get("kill")):
        return None
    import numpy as np   # memcg samples (a data set's) come as arrays
    t, u = m
    if len(t) < 3 or not _isnum(ep.get("anon_rss_kb")) or not ep["anon_rss_kb"]:
        return None
    if trace_clock == "trace:mono":
        shift = 0.0
    else:   # align on the limit hit: approximate (tens of ms), for classification only
        hit = int(np.argmax(u >= 0.98 * u.max()))
        shift = ep["kill"] - t[hit]
    tk, tr = ep["kill"] - shift, ep["reap_start"] - shift - 0.02
    if tr <= tk:
        return None
    i0 = np.searchsorted(t, tk)
    i1 = np.searchsorted(t, tr)
    if i1 <= 0 or i0 >= len(t):
        return None
    u_kill = u[max(0, i0 - 3):i0 + 3].max()
    u_reap = u[max(0, i1 - 1)]
    return float((u_kill - u_reap) / (ep["anon_rss_kb"] * 1024.0))


def own_process(meta: dict, pid) -> bool:
    """Is ``pid`` one of the run's own processes?  A data-set run that lists its
    processes (``run_pids``) or the OOM kills of other processes seen during it
    (``foreign_kills``) owns only those; older metadata owns every pid."""
    if pid is None or pid != pid:
        return True
    pid = int(pid)
    if any(f.get("pid") == pid for f in meta.get("foreign_kills") or ()):
        return False
    rp = meta.get("run_pids")
    return rp is None or pid in set(rp)


def build_episodes(ev, *, memcg=None, lost_sources=(), metas: dict | None = None):
    """The episodes table (one row per victim, a DataFrame) from the events table
    (a DataFrame or :class:`Event` s with ``in_run`` and ``dup`` set); ``metas``
    (``{(machine, run): meta.json}``) adds each data-set run's scenario, limit
    and whether its ``victim_pids`` list the pid."""
    import pandas as pd
    events = ev if isinstance(ev, list) else events_from_frame(ev)
    if not events:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    return pd.DataFrame(episodes(events, memcg=memcg, lost_sources=lost_sources, metas=metas,
                                 table_na=not isinstance(ev, list)), columns=EPISODE_COLUMNS)


def episodes(events: list[Event], *, memcg=None, lost_sources=(), metas: dict | None = None,
             table_na: bool = False) -> list[dict]:
    """The rows of the episodes table (dicts of :data:`EPISODE_COLUMNS`, in the
    table's order) from :class:`Event` s. A missing text value is ``NaN`` if
    its events column holds any text (as the table shows it), else ``None``;
    ``table_na``: the events came from a table, which already says so."""
    if not events:
        return []
    na = {c: (NA if any(isinstance(getattr(e, c), str) for e in events) else None)
          for c in ("run", "comm", "gfp_mask", "gfp_flags")}
    if table_na:
        na = None
    ev = [e for e in events if not e.dup]
    off = offsets(ev)
    ev = [e for e in ev if e.in_run]
    goff = _group_offsets(off)
    mem_by_run = {}
    if memcg is not None and not memcg.empty:
        for (m, r), g in memcg.groupby([[_key(x) for x in memcg.machine], [_key(x) for x in memcg.run]]):
            g = g.sort_values("t")
            mem_by_run[(m, r)] = (g.t.to_numpy(), g.usage_bytes.to_numpy().astype(float))
    src = {}
    by_machine = defaultdict(list)
    for e in ev:
        e.src_idx = src.setdefault(e.source, len(src))
        by_machine[_key(e.machine)].append(e)
    out = []
    for machine in sorted(by_machine):
        out.extend(_episodes_of_group(machine, by_machine[machine], goff, mem_by_run, set(lost_sources), na))
    keep = []
    for row in out:
        meta = (metas or {}).get((row["machine"], row["run"]))
        if meta:
            if not own_process(meta, row["pid"]):
                continue   # another OOM kill on the machine during the run (meta.json: foreign_kills)
            row["scenario"] = meta.get("scenario")
            row["limit_bytes"] = meta.get("limit_bytes")
            vp = meta.get("victim_pids")
            row["listed_victim"] = None if vp is None else int(row["pid"]) in set(vp)
        keep.append(row)
    # by machine, kill time, pid (missing last; stable)
    keep.sort(key=lambda r: (_missing(r["machine"]), "" if _missing(r["machine"]) else r["machine"],
                             _missing(r["kill"]), 0.0 if _missing(r["kill"]) else r["kill"], r["pid"]))
    return keep


def _episodes_of_group(machine, g, goff, mem_by_run, lost_sources, na=None):
    tclocks = sorted({c for c in (e.clock for e in g) if str(c).startswith("trace:")})
    ref = tclocks[0] if tclocks else None

    def to_ref(clock, ts, run):
        if not _isnum(ts):
            return math.nan
        if ref is None or clock == ref:
            return ts
        o = _offset(goff, machine, run, clock, ref)
        return ts - o[0] if o else math.nan

    for e in g:
        e.t_ref = to_ref(e.clock, e.ts, e.run)
    # headers and kill decisions attach to the next kill line of the same source
    pending_hdr = {}
    hdr_of = {}
    dec_of = {}
    pending_dec = {}
    for r in sorted(g, key=lambda e: (e.src_idx, e.line)):
        if r.kind == EV.OOM_INVOKED:
            pending_hdr[r.src_idx] = r
        elif r.kind == EV.KILL_DECISION:
            pending_dec[r.src_idx] = r
        elif r.kind in (EV.KILLED, EV.MARK_VICTIM, EV.OOM_KILL_SUMMARY):
            h = pending_hdr.get(r.src_idx)
            if h is not None:
                hdr_of[r.Index] = h
                if r.kind == EV.KILLED:
                    pending_hdr.pop(r.src_idx, None)
            if r.kind == EV.KILLED:
                d = pending_dec.pop(r.src_idx, None)
                if d is not None:
                    dec_of[r.Index] = d
    rel = [e for e in g if e.kind in KILL_KINDS + REAP_KINDS + LIFE_KINDS and not _missing(e.pid)]
    victims = {e.pid for e in rel if e.kind in KILL_KINDS + REAP_KINDS}
    rel = [e for e in rel if e.pid in victims]   # exits and frees of other tasks are not evidence
    eps = []
    # one process per (run, pid): a data set's runs may come from different boots (QEMU guests), whose pids repeat
    procs = defaultdict(list)
    for e in rel:
        procs[("" if _missing(e.run) else e.run, e.pid)].append(e)
    for key in sorted(procs):
        pg = sorted(procs[key], key=lambda e: (_missing(e.t_ref), 0.0 if _missing(e.t_ref) else e.t_ref,
                                                e.src_idx, e.line))
        cur = None
        pre_sig = []
        for r in pg:
            k = r.kind
            if k == EV.SIGNAL_GENERATE:
                if cur is not None and not cur["closed"] and _near(cur, r):
                    cur["ev"].append(r)
                else:
                    pre_sig.append(r)
                continue
            if k in KILL_KINDS:
                if cur is None or cur["closed"] or _new_kill(cur, r):
                    cur = {"ev": [], "closed": False, "kills": []}
                    eps.append(cur)
                    cur["ev"].extend(s for s in pre_sig if _isnum(s.t_ref) and _isnum(r.t_ref)
                                     and 0 <= r.t_ref - s.t_ref < SAME_KILL_S)
                    pre_sig = []
                cur["ev"].append(r)
                cur["kills"].append(r)
                continue
            if k in REAP_KINDS:
                if cur is None or (cur["closed"] and not _reaper_may_follow(cur)):
                    cur = {"ev": [], "closed": False, "kills": []}
                    eps.append(cur)
                cur["ev"].append(r)
                continue
            if cur is not None and not cur["closed"]:
                cur["ev"].append(r)
                if k == EV.SCHED_PROCESS_FREE:
                    cur["closed"] = True
    rows = []
    for e in eps:
        rows.append(_summarise(machine, e, hdr_of, dec_of, goff, ref, mem_by_run, lost_sources, na))
    # episode numbers per pid
    seen = defaultdict(int)
    for row in sorted(rows, key=lambda x: (x["pid"], x["_order"])):
        key = (row.get("run") or "", row["pid"])
        row["episode"] = seen[key]
        seen[key] += 1
    for row in rows:
        row.pop("_order")
    return rows


def _reaper_may_follow(cur):
    """The oom_reaper's events may follow the victim's sched_process_free: that
    event is traced an RCU grace period after release_task (kernel/exit.c:
    put_task_struct_rcu_user -> delayed_put_task_struct), while the reaper
    works on its own task reference (mm/oom_kill.c:queue_oom_reaper,
    get_task_struct) until it has finished with the victim; they belong to the
    kill before, until the reaper has finished with it."""
    done = (EV.FINISH_TASK_REAPING, EV.REAPED, EV.REAP_UNABLE_LINE, EV.REAP_GIVING_UP_LINE)
    return bool(cur["kills"]) and not any(x.kind in done for x in cur["ev"])


def _near(cur, r):
    ks = [x.t_ref for x in cur["kills"] if _isnum(x.t_ref)]
    return bool(ks) and _isnum(r.t_ref) and abs(r.t_ref - ks[0]) < SAME_KILL_S


def _new_kill(cur, r):
    same = [x for x in cur["kills"] if x.kind == r.kind]
    if not same:
        kt = [x.t_ref for x in cur["kills"] if _isnum(x.t_ref)]
        return bool(kt) and _isnum(r.t_ref) and abs(r.t_ref - kt[0]) > SAME_KILL_S
    prev = same[-1]
    if _isnum(prev.t_ref) and _isnum(r.t_ref):
        return abs(r.t_ref - prev.t_ref) > SAME_KILL_S
    # no timestamps: a repeated kill line is the same kill unless the first one was resolved
    return any(x.kind in (EV.REAPED, EV.REAP_UNABLE_LINE, EV.REAP_GIVING_UP_LINE, EV.FINISH_TASK_REAPING, EV.SCHED_PROCESS_FREE)
               for x in cur["ev"])


def _first(evs, kind, clock_prefix=None, pred=None):
    for r in evs:
        if r.kind == kind and (clock_prefix is None or str(r.clock).startswith(clock_prefix)) and (pred is None or pred(r)):
            return r
    return None


def _summarise(machine, e, hdr_of, dec_of, goff, ref, mem_by_run, lost_sources, na=None):
    def text(v, col):   # a missing text value as the events table shows it
        return v if na is None or not _missing(v) else na[col]

    evs = sorted(e["ev"], key=lambda r: (not _isnum(r.t_ref), r.t_ref if _isnum(r.t_ref) else 0, r.src_idx, r.line))
    row = dict.fromkeys(EPISODE_COLUMNS)
    src = []

    def take(col, r, val=None):
        if r is None:
            return
        row[col] = r.ts if val is None else val
        src.append(f"{col}={r.source}:{r.line}")

    tr = [r for r in evs if str(r.clock).startswith("trace:")]
    logs = [r for r in evs if not str(r.clock).startswith("trace:")]
    clock = tr[0].clock if tr else None
    mv = _first(tr, EV.MARK_VICTIM)
    killed = _first(logs, EV.KILLED)
    summ = _first(logs, EV.OOM_KILL_SUMMARY)
    first = mv or killed or summ or (evs[0] if evs else None)
    row["pid"] = int(first.pid)
    row["machine"] = None if machine == "None" else machine
    row["run"] = text(mv.run if mv is not None else first.run, "run")
    if tr:
        row["clock"] = clock
        take("kill", mv)
        sig = _first(tr, EV.SIGNAL_GENERATE)
        take("signal", sig)
        take("wake", _first(tr, EV.WAKE_REAPER))
        st = _first(tr, EV.START_TASK_REAPING)
        take("reap_start", st)
        fin = _first(tr, EV.FINISH_TASK_REAPING, pred=(lambda r: st is None or r.t_ref >= st.t_ref))
        take("reap_finish", fin)
        take("skip", _first(tr, EV.SKIP_TASK_REAPING))
        ex = _first(tr, EV.SCHED_PROCESS_EXIT)
        if ex is not None:
            take("exit_start" if ex.group_dead is not None and not _nan(ex.group_dead) else "exit_mm_done", ex)
        take("free", _first(tr, EV.SCHED_PROCESS_FREE))
        row["reap_attempts"] = sum(1 for r in tr if r.kind in (EV.START_TASK_REAPING, EV.SKIP_TASK_REAPING)) or None
    lk = (_first(logs, EV.KILLED, "printk") or _first(logs, EV.OOM_KILL_SUMMARY, "printk") or killed or summ
          or _first(logs, EV.ALREADY_EXITING))
    if lk is not None and lk.clock == "printk":
        take("kill_printk", lk)
    reaped = _first(logs, EV.REAPED)
    unable = _first(logs, EV.REAP_UNABLE_LINE) or _first(logs, EV.REAP_GIVING_UP_LINE)
    if reaped is not None and reaped.clock == "printk":
        take("reaped_printk", reaped)
    if unable is not None and unable.clock == "printk":
        take("unable_printk", unable)
    if lk is not None and isinstance(lk.wall, str):
        row["kill_wall"] = lk.wall
    if not tr and lk is not None:
        row["clock"] = lk.clock if lk.clock != "none" else None
        row["kill"] = lk.ts if _isnum(lk.ts) else None
    # values
    for r in (mv, killed, summ, _first(logs, EV.ALREADY_EXITING), _first(evs, EV.REAPED), _first(evs, EV.REAP_UNABLE_LINE),
              _first(evs, EV.REAP_GIVING_UP_LINE), _first(tr, EV.SCHED_PROCESS_EXIT)):
        if r is not None and isinstance(r.comm, str):
            row["comm"] = r.comm
            break
    for col in ("anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "total_vm_kb", "pgtables_kb", "uid"):
        for r in (killed, mv):
            if r is not None and _isnum(getattr(r, col)):
                row[col] = int(getattr(r, col))
                break
    for r in (killed, mv):
        if r is not None and _isnum(r.oom_score_adj):
            row["victim_oom_score_adj"] = int(r.oom_score_adj)
            break
    if reaped is not None:
        for a, b in (("anon_rss_after_kb", "anon_rss_kb"), ("file_rss_after_kb", "file_rss_kb"),
                     ("shmem_rss_after_kb", "shmem_rss_kb")):
            v = getattr(reaped, b)
            row[a] = int(v) if _isnum(v) else None
    if summ is not None:
        for col in ("constraint", "oom_memcg", "task_memcg", "nodemask"):
            v = getattr(summ, col)
            if isinstance(v, str):
                row[col] = v
    hdr = None
    for r in (killed, summ, mv):
        if r is not None and r.Index in hdr_of:
            hdr = hdr_of[r.Index]
            break
    if hdr is not None:
        row["invoker_comm"] = text(hdr.comm, "comm")
        row["gfp_mask"], row["gfp_flags"] = text(hdr.gfp_mask, "gfp_mask"), text(hdr.gfp_flags, "gfp_flags")
        row["order"] = int(hdr.order) if _isnum(hdr.order) else None
        row["oom_score_adj"] = int(hdr.oom_score_adj) if _isnum(hdr.oom_score_adj) else None
        if not row["nodemask"] and isinstance(hdr.nodemask, str):
            row["nodemask"] = hdr.nodemask
        src.append(f"header={hdr.source}:{hdr.line}")
    if killed is not None and killed.Index in dec_of:
        d = dec_of[killed.Index]
        row["selected_pid"], row["selected_comm"], row["score"] = int(d.pid), text(d.comm, "comm"), int(d.score)
        src.append(f"decision={d.source}:{d.line}")
    # latencies, each within one domain
    counter = isinstance(clock, str) and clock.split(":", 1)[1] in ("counter", "x86-tsc", "ppc-tb")
    row["time_unit"] = "counts" if counter else ("s" if row["clock"] else None)

    def lat(a, b):
        x, y = row.get(a), row.get(b)
        return (y - x) if _isnum(x) and _isnum(y) else None

    if tr:
        row["kill_to_wake"] = lat("kill", "wake")
        row["kill_to_reap_start"] = lat("kill", "reap_start")
        row["reap_duration"] = lat("reap_start", "reap_finish")
        row["kill_to_exit_start"] = lat("kill", "exit_start")
        row["kill_to_exit_mm_done"] = lat("kill", "exit_mm_done")
        row["kill_to_free"] = lat("kill", "free")
        row["reap_finish_to_free"] = lat("reap_finish", "free")
    row["kill_to_reaped_printk"] = lat("kill_printk", "reaped_printk")
    if tr and logs and ref is not None:
        o = _offset(goff, machine, row["run"], "printk", clock)
        if o:
            row["offset_s"], row["offset_anchor"] = o
    # evidence and outcome
    if tr and logs:
        row["evidence"] = "trace+log"
    elif tr:
        row["evidence"] = "trace"
    elif any(r.kind in (EV.KILLED, EV.OOM_KILL_SUMMARY, EV.ALREADY_EXITING) for r in logs):
        row["evidence"] = "log-only"
    else:
        row["evidence"] = "reap-only"
    notes = []
    if any(r.source in lost_sources for r in tr):
        row["lost_events"] = True
        notes.append("trace lost events")
    else:
        row["lost_events"] = False
    has_reap = row["reap_finish"] is not None or reaped is not None
    if unable is not None:
        outcome = "unable"
    elif has_reap:
        outcome = "reaped"
        drop = _memcg_drop(row, mem_by_run, clock)
        row["memcg_drop_before_reap"] = drop
        if drop is not None and drop > JOINED_DROP:
            outcome = "joined"
            notes.append(f"memcg usage fell by {drop:.0%} of anon RSS before the reaper started: "
                         "the victim's own exit_mmap ran first")
        elif drop is None and row["exit_start"] is not None and row["reap_start"] is not None:
            notes.append("exit started before the reap; no memcg samples to tell a joined reap")
    elif row["skip"] is not None:
        outcome = "skipped"
    elif tr and mv is not None and row["wake"] is None and row["reap_start"] is None and (
            row["free"] is not None or row["exit_mm_done"] is not None):
        outcome = "self-exit"
    else:
        outcome = "unknown"
    if any(r.kind == EV.KILLED and _isnum(r.truncated) and r.truncated for r in logs):
        notes.append("kill line cut off")
    row["outcome"] = outcome
    row["note"] = "; ".join(notes) or None
    row["sources"] = "; ".join(src) or None
    row["_order"] = (evs[0].t_ref if evs and _isnum(evs[0].t_ref) else math.inf, evs[0].src_idx if evs else 0,
                     evs[0].line if evs else 0)
    return row


def _nan(x):
    return isinstance(x, float) and math.isnan(x)
