"""What a step of the model shows to the outside: observations and lines.

Firing a transition gives the abstract observations it stands for (in
the vocabulary of :mod:`oomnb.events`: ``kill``, ``reaper_wake``,
``reap_start``, ...) and, for each, the concrete lines the kernel version
emits on that path (tracepoints from v4.13, ``sched_process_exit``
before or after ``exit_mm`` depending on the release, the
``oom_reaper:`` printk lines in every version with a reaper).

Branch-dependent observations come from the transition itself (its fire
function adds ``obs:...`` tags on the branch it takes: a failed trylock
gives ``reap_skip``, a successful one ``reap_start``); the thread
lifecycle (``exit_start``, ``mm_released``, ``free``) is read from the
change of the thread's place in ``do_exit``.

A partial reap (``mmu-notifier``: a notifier refused and the attempt
failed) is a ``reap_finish`` with finish_task_reaping only, no "oom_reaper:
reaped process" line; an IO completion (``dio_complete``) emits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import events as ev
from .state import EXITING, POST, RELEASED

#: sched_process_exit moved from after exit_mm to before it, with group_dead=
#: ("exit: move and extend sched_process_exit() tracepoint"): after exit_mm in
#: 6.12 (linux-source-6.12 kernel/exit.c:do_exit), before it in 6.18.
SCHED_EXIT_BEFORE_EXIT_MM = "6.16"


@dataclass(frozen=True)
class Observation:
    what: str           # events.OBSERVATIONS
    subject: str        # "T0".. (a victim thread), "W" (the other process)
    lines: tuple        # event names this version emits for it, in order

    def __str__(self):
        ln = ",".join(self.lines) if self.lines else "-"
        return f"{self.what}({self.subject})[{ln}]"


def _emit(k, *names) -> tuple:
    return tuple(n for n in names if ev.EVENTS[n].emitted_by(k))


def _sched_exit_before(k) -> bool:
    return ev.release(k.release) >= ev.release(SCHED_EXIT_BEFORE_EXIT_MM)


def _tagged(k, t, s, tags) -> list:
    out = []
    reaper = f"T{s.rtask}" if s.rtask >= 0 else "T?"
    for tag in tags:
        if not tag.startswith("obs:"):
            continue
        parts = tag.split(":")
        what = parts[1]
        subj = parts[2] if len(parts) > 2 else reaper
        if what == "kill":                       # oom_kill_process: mark_oom_victim + printk
            out.append((0, Observation(ev.KILL, subj, _emit(k, ev.MARK_VICTIM, ev.KILLED))))
        elif what == "kill_again":               # TIF_MEMDIE already set: no tracepoint
            out.append((0, Observation(ev.KILL, subj, _emit(k, ev.KILLED))))
        elif what == "mark":                     # task_will_free_mem(current) shortcut
            out.append((0, Observation(ev.KILL, subj, _emit(k, ev.MARK_VICTIM))))
        elif what == "wake":
            out.append((1, Observation(ev.REAPER_WAKE, subj, _emit(k, ev.WAKE_REAPER))))
        elif what == "reap_start":
            out.append((2, Observation(ev.REAP_START, subj, _emit(k, ev.START_TASK_REAPING))))
        elif what == "reap_skip":
            out.append((2, Observation(ev.REAP_SKIP, subj, _emit(k, ev.SKIP_TASK_REAPING))))
        elif what == "reap_gate":                # mmget_not_zero failed: traced in v4.13 only
            lines = _emit(k, ev.SKIP_TASK_REAPING) if ev.release(k.release) < (4, 14) else ()
            out.append((2, Observation(ev.REAP_SKIP, subj, lines)))
        elif what == "reap_nomm":                # v4.8 find_lock_task_mm found no mm
            out.append((2, Observation(ev.REAP_SKIP, subj, ())))
        elif what == "reap_finish":
            out.append((3, Observation(ev.REAP_FINISH, subj,
                                       _emit(k, ev.REAPED, ev.FINISH_TASK_REAPING))))
        elif what == "reap_partial":             # v4.19+: a notifier refused, no "reaped" printk
            out.append((3, Observation(ev.REAP_FINISH, subj, _emit(k, ev.FINISH_TASK_REAPING))))
        elif what == "unable":
            out.append((4, Observation(ev.REAP_UNABLE, subj, _emit(k, ev.REAP_UNABLE_LINE))))
        elif what == "unable_quiet":
            out.append((4, Observation(ev.REAP_UNABLE, subj, ())))
        elif what == "giving_up":
            out.append((5, Observation(ev.REAP_GIVING_UP, subj, _emit(k, ev.REAP_GIVING_UP_LINE))))
        else:  # pragma: no cover - a fire function added an unknown tag
            raise ValueError(f"unknown observation tag {tag!r}")
    if "kill_W" in tags:
        out.append((0, Observation(ev.KILL_OTHER, "W", _emit(k, ev.MARK_VICTIM, ev.KILLED))))
    return out


def _lifecycle(k, s, s2) -> list:
    out = []
    before = _sched_exit_before(k)
    for i, (a, b) in enumerate(zip(s.th, s2.th)):
        if a[0] == b[0]:
            continue
        if b[0] == EXITING:
            out.append((6, Observation(ev.EXIT_START, f"T{i}",
                                       _emit(k, ev.SCHED_PROCESS_EXIT) if before else ())))
        elif b[0] == POST:
            out.append((7, Observation(ev.MM_RELEASED, f"T{i}",
                                       () if before else _emit(k, ev.SCHED_PROCESS_EXIT))))
        elif b[0] == RELEASED:
            out.append((8, Observation(ev.FREE, f"T{i}", _emit(k, ev.SCHED_PROCESS_FREE))))
    return out


def observe(k, t, i, s, s2, tags) -> tuple:
    """The observations of one step (transition ``t``, instance ``i``, from
    ``s`` to ``s2`` with ``tags``), in the order the kernel emits them."""
    obs = _tagged(k, t, s, tags) + _lifecycle(k, s, s2)
    obs.sort(key=lambda x: x[0])
    return tuple(o for _, o in obs)


def lines(obs) -> tuple:
    """The concrete event names of a tuple of observations, in order."""
    return tuple(n for o in obs for n in o.lines)


def possible(k, t) -> dict:
    """{"observation (branch)": lines} that transition ``t`` can produce in
    version ``k`` (for ``oomnb explain``): every branch its code tags."""
    from .transitions import BY_KEY
    branches = {
        "out_of_memory": ["kill", "kill_again", "wake", "kill_W"],
        "victim_out_of_memory": ["mark", "wake"],
        "reap_attempt": ["reap_start", "reap_skip"]
                        + (["reap_gate"] if k.reaper_mmget_gate else [])
                        + (["reap_nomm"] if k.reaper_mm_lookup == "find_lock_task_mm" else []),
        "reap_unmap": ["reap_finish"]
                      + (["reap_partial"] if k.has_reaper and k.reaper_mmu_notifier == "nonblock"
                         else []),
        "oom_reap_task": ["unable"] + (["unable_quiet"] if k.unable_quiet_if_skip else [])
                         + (["giving_up"] if k.reaper_done == "two-strike" else []),
        "wake_oom_reaper_timer": ["wake"],
        # --- memcg OOM path
        "memcg_out_of_memory": ["kill", "kill_again", "wake", "kill_W"],
        "thread_mem_cgroup_oom": ["kill", "kill_again", "wake", "kill_W"],
        "w_reap_attempt": ["reap_start", "reap_skip"],
        "w_reap_unmap": ["reap_finish"],
    }
    out = {}
    for tg in branches.get(t.key, []):
        if tg == "wake" and (not k.has_reaper or (t.key != "wake_oom_reaper_timer"
                                                  and k.queue == "timer"
                                                  and not k.reaper_delay_robust_only)):
            continue                      # no reaper; queue_oom_reaper only arms the timer
        tag = "kill_W" if tg == "kill_W" else f"obs:{tg}:T0"
        for _, o in _tagged(k, BY_KEY[t.key], _AnyState, {tag}):
            out[f"{o.what} ({tg})" if o.what != tg else o.what] = o.lines
    before = _sched_exit_before(k)
    if t.key == "do_exit":
        out[ev.EXIT_START] = _emit(k, ev.SCHED_PROCESS_EXIT) if before else ()
    elif t.key in ("mmput", "exit_oom_victim", "exit_mmap_free"):
        out[ev.MM_RELEASED] = () if before else _emit(k, ev.SCHED_PROCESS_EXIT)
    elif t.key == "release_task":
        out[ev.FREE] = _emit(k, ev.SCHED_PROCESS_FREE)
    return out


class _AnyState:
    rtask = 0
