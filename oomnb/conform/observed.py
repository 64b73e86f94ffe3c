"""What an episode shows: the observed sequence the model must explain.

An :class:`Episode` is one victim's evidence as a list of
:class:`Observed` events in time order, each standing for an abstract
observation of :mod:`oomnb.events` (``kill``, ``reap_start``, ...), plus
the set of observations the capture *could* have recorded
(:attr:`Episode.capture`): the model may stay silent about anything
outside it (no ``sched:`` events enabled, a log with only kill lines).

Choices (stated once, here):

* **Subjects.**  Every event names a pid: a victim thread (the model's
  ``T0``..``T2``) or another process killed in the same run during the
  episode (the model's ``W``, observation ``kill_other``).  Which model
  thread a tid is is left to the replay, which binds tids to threads
  one-to-one as it goes (the kill binds the marked thread, usually the
  leader, to the thread the model marks).
* **Threads.**  The victim's tids come from the run's ``meta.json``
  (``victim_tids``), else the victim pid alone.  The model has at most
  three threads; the events of further threads are left out (the
  ``frozen-victim`` runs have four threads that exit independently, so
  three of them show the same orderings) and the episode says so.
* **Duplicates.**  A kill is in the trace (``mark_victim``) and in the
  log (``Killed process``); a reap in the trace and in the log.  The
  log line is used only for observations the trace does not record
  (``unable to reap``), placed in the trace's clock with the episode's
  printk - trace offset.
* **Stacks.**  Sampled ``/proc/<pid>/task/<tid>/stack`` (collector sets)
  add one kind of *state* event: a thread seen waiting in
  ``__mmput -> exit_aio`` (the first and last sample of each stretch).
  The replay checks it against the model state instead of a step.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import events as ev

#: a state event: the thread waits in kernel/fork.c:__mmput -> fs/aio.c:exit_aio
IN_EXIT_AIO = "in_exit_aio"
MAX_THREADS = 3

#: tracefs event names in a collector's ``events`` list -> the events they enable
_ENABLED = {"oom:*": ev.TRACEPOINTS}


@dataclass(frozen=True)
class Observed:
    what: str               # an observation of oomnb.events, or IN_EXIT_AIO
    pid: int | None         # the thread (or process) it is about
    t: float                # time in the episode's clock (nan if unknown)
    event: str              # the event name it was read from
    where: str = ""         # file:line
    state: bool = False     # a state event (checked, not consumed by a step)

    def label(self) -> str:
        return f"{self.what}({self.pid})"


@dataclass
class Episode:
    id: str                          # machine/run/pid (or file:pid#n)
    machine: str
    run: str | None
    scenario: str | None             # collector scenario (meta.json), None if unknown
    pid: int
    tids: tuple
    events: list                     # of Observed, time order
    capture: frozenset               # observations the capture could record
    clock: str = ""
    release: str | None = None       # kernel release that produced it
    notes: list = field(default_factory=list)
    emulated: bool = False           # recorded in an emulated machine (QEMU TCG): timing not comparable

    @property
    def threads(self) -> int:
        return max(1, min(len(self.tids), MAX_THREADS))

    @property
    def n_order(self) -> int:
        """Observed events that constrain the order (state events included)."""
        return len(self.events)

    def describe(self) -> str:
        kinds = sorted({o.what for o in self.events})
        return f"{self.id}: {len(self.events)} observed events ({', '.join(kinds) or 'none'})"


def _num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _obs_of_row(r) -> str | None:
    if r["kind"] == ev.SCHED_PROCESS_EXIT:
        gd = r.get("group_dead")
        return ev.exit_observation(None if gd is None or (isinstance(gd, float) and math.isnan(gd))
                                   else gd)
    return ev.observation_of(r["kind"])


def capture_of(meta: dict | None, rows: pd.DataFrame, has_log: bool) -> frozenset:
    """The observations a capture could record: the events its metadata
    says were enabled, else every event kind seen anywhere in its trace,
    plus the printk observations when a kernel log is part of it."""
    names = set()
    listed = (meta or {}).get("events")
    if listed:
        for item in listed:
            tok = str(item).split()[0]
            if tok in _ENABLED:
                names.update(_ENABLED[tok])
            else:
                names.add(tok.split(":")[-1])
    obs = set()
    for n in names:
        if n == ev.SCHED_PROCESS_EXIT:
            rel = (meta or {}).get("kernel_release")
            from ..kernel.observe import SCHED_EXIT_BEFORE_EXIT_MM
            before = ev.release(rel) >= ev.release(SCHED_EXIT_BEFORE_EXIT_MM) if rel else True
            obs.add(ev.EXIT_START if before else ev.MM_RELEASED)
        elif ev.observation_of(n):
            obs.add(ev.observation_of(n))
    trace_rows = rows[~rows["clock"].astype(str).eq("printk")]
    for _, r in trace_rows.iterrows():
        o = _obs_of_row(r)
        if o:
            obs.add(o)
    if has_log:
        obs.update(e.observation for e in ev.EVENTS.values()
                   if e.kind == "printk" and e.observation)
    if ev.KILL in obs:
        obs.add(ev.KILL_OTHER)
    return frozenset(obs)


# --- stacks.txt -------------------------------------------------------------

_STACK_HDR = re.compile(r"^@ (?P<t>[0-9.]+) pid=(?P<pid>\d+) tid=(?P<tid>\d+) state=(?P<st>\S+)"
                        r".*?(?P<same> same)?$")


def stack_states(path: Path, tids) -> list:
    """State events from a collector's ``stacks.txt``: for each tid, the
    first and last sample of every stretch spent in ``__mmput -> exit_aio``."""
    want = {int(t) for t in tids}
    cur: dict = {}
    frames: dict = {}
    samples = []            # (t, tid, in_exit_aio, line)
    hdr = None
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for n, line in enumerate(text, 1):
        m = _STACK_HDR.match(line)
        if m:
            if hdr is not None:
                _close(hdr, frames, cur, samples)
            tid = int(m["tid"])
            hdr = (float(m["t"]), tid, bool(m["same"]), n) if tid in want else None
            frames = {"f": []}
        elif hdr is not None and line.startswith("["):
            frames["f"].append(line)
    if hdr is not None:
        _close(hdr, frames, cur, samples)
    out = []
    for tid in sorted(want):
        mine = [s for s in samples if s[1] == tid]
        run = []
        for s in mine + [(math.inf, tid, False, 0)]:
            if s[2]:
                run.append(s)
            elif run:
                for t, _, _, ln in (run[0], run[-1]) if len(run) > 1 else (run[0],):
                    out.append(Observed(IN_EXIT_AIO, tid, t, "stack", f"{path}:{ln}", state=True))
                run = []
    return out


def _close(hdr, frames, cur, samples):
    t, tid, same, n = hdr
    if not same:
        f = frames["f"]
        cur[tid] = any("exit_aio" in x for x in f) and any("__mmput" in x for x in f)
    samples.append((t, tid, cur.get(tid, False), n))


# --- episodes from a Trace ----------------------------------------------------

def _run_dir(rows: pd.DataFrame) -> Path | None:
    for s in rows["source"].dropna().astype(str).unique():
        p = Path(s).parent
        if (p / "meta.json").is_file():
            return p
    return None


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def episodes_of(tr) -> list:
    """One :class:`Episode` per row of ``tr.df_episodes()``."""
    eps = tr.df_episodes()
    evs = tr.df_events(include_dup=False)
    evs = evs[evs["in_run"].astype(bool)]
    out = []
    if eps.empty:
        return out
    metas_cache: dict = {}
    runkey = _key(evs["run"])
    mkey = _key(evs["machine"])
    for (machine, run), g in eps.groupby([_key(eps["machine"]), _key(eps["run"])],
                                         sort=False, dropna=False):
        rows = evs[(mkey == machine) & (runkey == run)]
        rdir = _run_dir(rows) if len(rows) else None
        meta = None
        if rdir is not None:
            meta = metas_cache.setdefault(rdir, json.loads((rdir / "meta.json").read_text()))
        has_log = bool((rows["clock"].astype(str) == "printk").any())
        capture = capture_of(meta, rows, has_log)
        g = g.sort_values("kill", kind="stable")
        kills = g[["pid", "kill"]].to_records(index=False)
        for _, e in g.iterrows():
            out.append(_episode(machine or "input", run or None, e, rows, meta,
                                rdir, capture, kills))
    return out


def _key(col: pd.Series) -> pd.Series:
    return col.astype(object).where(col.notna(), "").astype(str)


def _episode(machine, run, e, rows, meta, rdir, capture, kills) -> Episode:
    pid = int(e["pid"])
    tids = [pid]
    if meta and meta.get("victim_tids") and pid in set(meta.get("victim_pids") or [pid]):
        tids = [int(t) for t in meta["victim_tids"]]
        if pid in tids:
            tids.remove(pid)
        tids = [pid] + tids
    notes = []
    if len(tids) > MAX_THREADS:
        notes.append(f"{len(tids)} threads: the events of {len(tids) - MAX_THREADS} "
                     f"(tids {', '.join(map(str, tids[MAX_THREADS:]))}) are left out "
                     f"(the model has at most {MAX_THREADS})")
    kept = set(tids[:MAX_THREADS])
    clock = str(e.get("clock") or "")
    off = _num(e.get("offset_s"))
    t0 = _num(e.get("kill"))
    t_end = min([_num(k) for p, k in kills if int(p) == pid and _num(k) > t0] or [math.inf])
    trace_has = capture - _printk_only(rows)
    obs = []
    for _, r in rows.iterrows():
        what = _obs_of_row(r)
        if what is None or _isnan(r["pid"]):
            continue
        p = int(r["pid"])
        is_log = str(r["clock"]) == "printk"
        t = _num(r["ts"])
        if is_log and clock != "printk":
            if what in trace_has or math.isnan(off):
                continue                   # the trace has it (or no common clock)
            t = t - off
        elif not is_log and clock == "printk":
            continue
        if p in kept:
            pass
        elif what == ev.KILL and p not in tids:
            what = ev.KILL_OTHER
        else:
            continue
        if not math.isnan(t0) and not (t0 - 1e-6 <= t < t_end) and p in kept:
            continue
        if what == ev.KILL_OTHER and not (math.isnan(t0) or t0 < t < t_end):
            continue
        obs.append(Observed(what, p, t, r["kind"], f"{r['source']}:{r['line']}"))
    if rdir is not None and (rdir / "stacks.txt").is_file():
        for s in stack_states(rdir / "stacks.txt", kept):
            if math.isnan(t0) or t0 <= s.t < t_end:
                obs.append(s)
    obs.sort(key=lambda o: (o.t, o.where))
    rid = f"{machine}/{run}/{pid}" if run else f"{machine}/{pid}@{t0:.6f}"
    emulated = _emulated(rdir)
    if emulated:
        notes.append("recorded under QEMU TCG: orderings and timers compare, durations do not; "
                     "timing not checked")
    return Episode(rid, machine, run, (meta or {}).get("scenario"), pid, tuple(tids), obs,
                   capture, clock, (meta or {}).get("kernel_release"), notes, emulated)


def _emulated(rdir) -> bool:
    """The data set's machine.json says it was recorded in a QEMU TCG guest."""
    if rdir is None or not (rdir.parent / "machine.json").is_file():
        return False
    m = json.loads((rdir.parent / "machine.json").read_text())
    return "TCG" in str(m.get("description", "")) or bool((m.get("recording") or {}).get("guest"))


def _printk_only(rows) -> frozenset:
    """Observations that only a log line records (no tracepoint for them)."""
    trace = set()
    for _, r in rows[~rows["clock"].astype(str).eq("printk")].iterrows():
        o = _obs_of_row(r)
        if o:
            trace.add(o)
    logs = {e.observation for e in ev.EVENTS.values() if e.kind == "printk" and e.observation}
    return frozenset(logs - trace)


class _Tables:
    """Events and episodes tables standing in for a :class:`oomnb.trace.Trace`."""

    def __init__(self, events: pd.DataFrame, episodes: pd.DataFrame):
        self._ev, self._ep = events, episodes

    def df_episodes(self) -> pd.DataFrame:
        return self._ep

    def df_events(self, include_dup: bool = True) -> pd.DataFrame:
        return self._ev if include_dup else self._ev[~self._ev["dup"].astype(bool)]


def episodes_of_tables(events: pd.DataFrame, episodes: pd.DataFrame, *, scenario: str | None = None,
                       threads: int = 1, release: str | None = None) -> list:
    """Episodes from an events table and the episodes built from it (the
    schema of :func:`oomnb.trace.df_events` / ``df_episodes``), e.g. a
    simulation's (:func:`oomnb.sim.events_table`).  ``scenario`` and
    ``threads`` say what the run was; thread ``i`` of a victim with pid
    ``p`` has tid ``p + i`` (the simulator's numbering)."""
    out = episodes_of(_Tables(events, episodes))
    for e in out:
        e.scenario = scenario if scenario is not None else e.scenario
        e.tids = tuple(e.pid + i for i in range(threads))
        e.release = release if release is not None else e.release
    return out
