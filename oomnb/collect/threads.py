"""Per-thread views of collected runs: when each victim thread exited, relative to the kill.

Read from a run's ``trace.txt`` (``mark_victim``, ``sched_process_exit`` of each
victim tid, the collector's ``phase=thaw`` / ``phase=suspend-*`` markers and
``power:suspend_resume``) and its ``meta.json``. Used for the frozen-victim
comparison across kernels (which threads ``mark_oom_victim`` thaws) and for
the suspend window of ``suspend-dstate``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import events as EV

_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<tid>\d+)\s+\[\d+\]\s+\S+\s+(?P<ts>\d+\.\d+): (?P<ev>\w+): (?P<rest>.*)$")


def _events(trace: str):
    for line in trace.splitlines():
        m = _LINE.match(line)
        if m:
            yield float(m["ts"]), m["ev"], m["rest"]


def _run_dirs(paths) -> list[Path]:
    out = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        p = Path(p)
        out.extend(sorted(q.parent for q in p.glob("*/meta.json")) if (p / "machine.json").exists() else [p])
    return out


def thread_exits(run_dir) -> dict:
    """``{"kill": t, "tids": {tid: exit time - kill (s) or None}, "markers": {phase: t - kill}}`` of one run."""
    d = Path(run_dir)
    meta = json.loads((d / "meta.json").read_text())
    pid = meta["victim_pids"][0]
    tids = meta.get("victim_tids") or [pid]
    kill = None
    exits: dict[int, float] = {}
    markers: dict[str, float] = {}
    suspend: list[tuple[float, str]] = []
    reap_start = None
    for ts, ev, rest in _events((d / "trace.txt").read_text(errors="replace")):
        if ev == EV.MARK_VICTIM and re.match(rf"pid={pid}\b", rest) and kill is None:
            kill = ts
        elif ev == EV.SCHED_PROCESS_EXIT:
            m = re.search(r"\bpid=(\d+)", rest)
            if m and int(m.group(1)) in tids:
                exits.setdefault(int(m.group(1)), ts)
        elif ev == "tracing_mark_write":
            m = re.search(r"phase=(\S+)", rest)
            if m:
                markers.setdefault(m.group(1), ts)
        elif ev == EV.START_TASK_REAPING and re.match(rf"pid={pid}\b", rest) and reap_start is None:
            reap_start = ts
        elif ev == EV.SUSPEND_RESUME:
            suspend.append((ts, rest))
    rel = (lambda t: None if t is None or kill is None else t - kill)
    return {"run": d.name, "pid": pid, "kill": kill, "tids": {t: rel(exits.get(t)) for t in tids},
            "markers": {k: rel(v) for k, v in markers.items()}, "suspend_phases": [(rel(t), r) for t, r in suspend],
            "reap_start": rel(reap_start)}


def frozen_victim_table(paths) -> pd.DataFrame:
    """One row per frozen-victim run: kernel, freezer, when the TIF_MEMDIE thread (the leader, which
    ``mark_oom_victim`` is called on) and the other threads exited after the kill, and whether any thread
    exited only after the collector thawed the cgroup."""
    rows = []
    for d in _run_dirs(paths):
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("scenario") != "frozen-victim":
            continue
        x = thread_exits(d)
        pid = x["pid"]
        thaw = x["markers"].get("thaw")
        others = {t: v for t, v in x["tids"].items() if t != pid}
        cg = meta.get("cgroups") or {}
        freezer = ("v1 freezer.state" if "freezer" in cg else "v2 cgroup.freeze")
        late = [t for t, v in others.items() if v is None or (thaw is not None and v >= thaw)]
        rows.append({"machine": meta.get("machine"), "kernel_release": meta.get("kernel_release"), "freezer": freezer,
                     "run": d.name, "pid": pid, "threads": len(x["tids"]),
                     "leader_exit_after_kill_ms": None if x["tids"].get(pid) is None else x["tids"][pid] * 1e3,
                     "other_threads_exit_after_kill_ms": max((v * 1e3 for v in others.values() if v is not None),
                                                             default=None),
                     "collector_thaw_after_kill_s": thaw,
                     "whole_process_thawed_by_kill": not late})
    return pd.DataFrame(rows)


def suspend_table(paths) -> pd.DataFrame:
    """One row per suspend-dstate run: the device, how the suspend test ended, the victim threads' states when it
    started, the freezer window from ``power:suspend_resume`` (``freeze_processes`` end to ``thaw_processes``
    begin), when the oom_reaper (a freezable kernel thread) started on the victim, and whether a victim thread
    exited inside the window."""
    rows = []
    for d in _run_dirs(paths):
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("scenario") != "suspend-dstate":
            continue
        x = thread_exits(d)
        s = meta.get("suspend") or {}
        frz_begin = next((t for t, r in x["suspend_phases"] if r.startswith("freeze_processes") and r.endswith(" begin")), None)
        frz_end = next((t for t, r in x["suspend_phases"] if r.startswith("freeze_processes") and r.endswith(" end")), None)
        thaw_begin = next((t for t, r in x["suspend_phases"] if r.startswith("thaw_processes") and r.endswith(" begin")), None)
        pid = x["pid"]
        inside = [t for t, v in x["tids"].items() if v is not None and frz_end is not None and thaw_begin is not None
                  and frz_end <= v <= thaw_begin]
        rows.append({"machine": meta.get("machine"), "kernel_release": meta.get("kernel_release"), "run": d.name,
                     "device": (meta.get("loop_device") or {}).get("device"), "result": s.get("result"),
                     "states_at_start": ",".join(f"{t}:{(v or {}).get('state', '-')}"
                                                 for t, v in (s.get("threads_at_start") or {}).items()),
                     "freeze_processes_s": None if frz_begin is None or frz_end is None else frz_end - frz_begin,
                     "freeze_end_after_kill_s": frz_end, "thaw_begin_after_kill_s": thaw_begin,
                     "reaper_start_after_kill_s": x["reap_start"],
                     "leader_exit_after_kill_s": x["tids"].get(pid),
                     "other_exit_after_kill_s": max((v for t, v in x["tids"].items() if t != pid and v is not None),
                                                    default=None),
                     "victim_thread_exited_inside_window": bool(inside)})
    return pd.DataFrame(rows)


def kernels_table(paths, ep: pd.DataFrame) -> pd.DataFrame:
    """One row per data set: kernel, cgroup version (verified in the guest), freezer, runs, victims, outcomes and
    the kill -> reaper wake range (the 2 s OOM_REAPER_DELAY timer, which TCG does not distort)."""
    rows = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        p = Path(p)
        m = json.loads((p / "machine.json").read_text())
        rec = m.get("recording") or {}
        g = ep[ep.machine == p.name]
        oc = g.outcome.value_counts()
        w = g.kill_to_wake.dropna()
        rows.append({"machine": p.name, "kernel_release": m.get("kernel_release"),
                     "HZ": ((m.get("metadata") or {}).get("kernel_config") or {}).get("values", {}).get("CONFIG_HZ"),
                     "cgroup": (rec.get("hierarchy") or {}).get("version", m.get("cgroup_version")),
                     "runs": len(list(p.glob("*/meta.json"))), "victims": len(g),
                     "outcomes": ", ".join(f"{k} {v}" for k, v in sorted(oc.items())),
                     "kill_to_wake_s": f"{w.min():.3f}-{w.max():.3f}" if len(w) else "-"})
    return pd.DataFrame(rows)
