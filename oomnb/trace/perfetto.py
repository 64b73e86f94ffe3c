"""Episodes as Chrome trace-event JSON (``ui.perfetto.dev`` opens it).

One process per machine, two threads per episode: ``victim <pid>`` (the
victim's life from the kill to the free, with the exit nested inside it) and
``reaper <pid>`` (the reaper's delay from the kill to its wake-up, then the
reap). Slices on one thread nest and never overlap; :func:`check_nesting`
verifies it and moves a slice to its own thread otherwise. Times are the
episode's own clock domain in microseconds; counter-clock episodes are
skipped (their counts are not time).
"""

from __future__ import annotations

import json
import math

from .. import events as EV


def _ok(*xs):
    return all(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in xs)


def check_nesting(slices) -> bool:
    """True if the ``(ts, dur)`` slices nest or are disjoint."""
    stack = []
    for ts, dur in sorted(slices, key=lambda s: (s[0], -s[1])):
        end = ts + dur
        while stack and stack[-1] <= ts:
            stack.pop()
        if stack and end > stack[-1]:
            return False
        stack.append(end)
    return True


def trace_events(ep) -> list[dict]:
    events = []
    machines = {m: i + 1 for i, m in enumerate(sorted({str(m) for m in ep.machine}))}
    tid = 0
    for m, pidx in machines.items():
        events.append({"ph": "M", "name": "process_name", "pid": pidx, "tid": 0, "args": {"name": f"{m}"}})
    for r in ep.itertuples():
        if r.time_unit != "s" or not _ok(r.kill):
            continue
        p = machines[str(r.machine)]
        lanes = {"victim": [], "reaper": []}
        us = 1e6

        def sl(lane, name, a, b, **args):
            if _ok(a, b) and b >= a:
                lanes[lane].append({"name": name, "ts": a * us, "dur": (b - a) * us, "args": args})

        end = r.free if _ok(r.free) else (r.reap_finish if _ok(r.reap_finish) else None)
        sl("victim", f"victim {r.pid} ({r.comm})", r.kill, end, outcome=r.outcome, run=str(r.run),
           clock=str(r.clock))
        ex = r.exit_start if _ok(r.exit_start) else r.exit_mm_done
        sl("victim", "exit_start→free" if _ok(r.exit_start) else "exit_mm_done→free", ex, r.free)
        sl("reaper", "OOM_REAPER_DELAY", r.kill, r.wake)
        sl("reaper", "reap", r.reap_start, r.reap_finish, anon_rss_kb=_n(r.anon_rss_kb))
        for lane, sls in lanes.items():
            groups = [[]]
            for s in sls:   # keep each thread's slices nested
                for gset in groups:
                    if check_nesting([(x["ts"], x["dur"]) for x in gset] + [(s["ts"], s["dur"])]):
                        gset.append(s)
                        break
                else:
                    groups.append([s])
            for k, gset in enumerate(groups):
                if not gset:
                    continue
                tid += 1
                label = f"{lane} {r.pid}" + (f" #{r.episode}" if r.episode else "") + (f" ({k})" if k else "")
                events.append({"ph": "M", "name": "thread_name", "pid": p, "tid": tid, "args": {"name": label}})
                for s in gset:
                    events.append({"ph": "X", "pid": p, "tid": tid, "cat": lane, **s})
        for name, t in (("kill", r.kill), (EV.WAKE_REAPER, r.wake), ("free", r.free)):
            if _ok(t):
                events.append({"ph": "i", "s": "t", "pid": p, "tid": tid, "name": name, "ts": t * us})
    return events


def _n(x):
    return int(x) if _ok(x) else None


def write_perfetto(ep, path) -> int:
    ev = trace_events(ep)
    with open(path, "w") as f:
        json.dump({"traceEvents": ev, "displayTimeUnit": "ms"}, f, indent=0)
    return sum(1 for e in ev if e["ph"] == "X")
