"""The one event vocabulary: from kernel function to trace line.

Every kernel emission the project knows is one :class:`Event` here: its
name (the ``kind`` of a row in the events table), what sort of emission it
is (``tracepoint``, ``printk``, ``sched``/``signal`` tracepoints, a
``memcg`` counter), its tracefs path, the fields it carries, the episode
columns it feeds, the kernel releases that emit it, the function that
emits it, and the abstract **observation** it stands for.

Observations are what the kernel *did*, independent of how it was
recorded; the model's transitions produce them
(:func:`oomnb.kernel.observe.observe`) and the conformance check compares
them with what a trace shows:

``kill``            the victim was selected and marked (mark_oom_victim)
``kill_other``      a second process (another mm) was selected
``reaper_wake``     the victim was handed to the oom_reaper kthread
``reap_start``      an attempt got the mmap lock and passed the gates
``reap_skip``       an attempt gave up at once (trylock failed, or the mm
                    was already MMF_OOM_SKIP)
``reap_finish``     the attempt unmapped what it could
``reap_unable``     the reaper exhausted MAX_OOM_REAP_RETRIES
``reap_giving_up``  v4.8's second exhaustion (MMF_OOM_NOT_REAPABLE set)
``exit_start``      a victim thread entered do_exit (PF_EXITING)
``mm_released``     a victim thread finished exit_mm
``free``            the victim's task_struct was freed

Names are the kernel's where the kernel has one (tracepoints: the
``TRACE_EVENT`` name); printk lines are named by what they say.  Other
modules use the constants (``events.MARK_VICTIM``), never the spelled
name.  Analyses declare the events they need (:func:`analysis`), and the
collector enables what the analyses declare (:func:`tracefs_paths`).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- abstract observations ------------------------------------------------
KILL, KILL_OTHER, REAPER_WAKE = "kill", "kill_other", "reaper_wake"
REAP_START, REAP_SKIP, REAP_FINISH = "reap_start", "reap_skip", "reap_finish"
REAP_UNABLE, REAP_GIVING_UP = "reap_unable", "reap_giving_up"
EXIT_START, MM_RELEASED, FREE = "exit_start", "mm_released", "free"
OBSERVATIONS = (KILL, KILL_OTHER, REAPER_WAKE, REAP_START, REAP_SKIP, REAP_FINISH, REAP_UNABLE,
                REAP_GIVING_UP, EXIT_START, MM_RELEASED, FREE)


def release(v: str | None) -> tuple:
    """``"v4.13"`` / ``"6.18.2"`` / ``"v6.18+fix"`` -> ``(4, 13)``; None -> ()."""
    if not v:
        return ()
    v = v.lstrip("vV").split("+")[0].split("-")[0]
    out = []
    for part in v.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


@dataclass(frozen=True)
class Event:
    name: str
    kind: str                       # tracepoint | printk | sched | signal | memcg
    observation: str | None         # abstract observation, None for context-only events
    source: str                     # kernel file:function that emits it
    tracefs: str | None = None      # "oom/mark_victim" (system/event under events/)
    fields: tuple = ()              # field names, tracefs and trace-cmd -R spellings
    columns: tuple = ()             # episode columns it feeds
    since: str | None = None        # first release that emits it
    until: str | None = None        # first release that no longer emits it
    fmt: str = ""                   # TP_printk / pr_info format (newest form)
    doc: str = ""

    def emitted_by(self, version) -> bool:
        """Does this kernel release emit the event?  ``version`` is a name
        (``v4.9``) or a kernel model (its ``release``)."""
        r = release(getattr(version, "release", version))
        if not r:
            return True
        if self.since and r < release(self.since):
            return False
        if self.until and r >= release(self.until):
            return False
        return True


_TP = "include/trace/events/oom.h; "
EVENTS: dict[str, Event] = {}


def _ev(name, kind, obs, source, **kw) -> str:
    EVENTS[name] = Event(name, kind, obs, source, **kw)
    return name


# --- oom: tracepoints (v4.13, "mm/oom_kill.c: add tracepoints for oom reaper-related events") ---
MARK_VICTIM = _ev(
    "mark_victim", "tracepoint", KILL, _TP + "mm/oom_kill.c:mark_oom_victim",
    tracefs="oom/mark_victim", since="v4.13", columns=("kill",),
    fields=("pid", "comm", "total-vm", "total_vm", "anon-rss", "anon_rss", "file-rss", "file_rss",
            "shmem-rss", "shmem_rss", "uid", "pgtables", "oom_score_adj"),
    fmt="pid=%d comm=%s total-vm=%lukB anon-rss=%lukB file-rss:%lukB shmem-rss:%lukB uid=%u "
        "pgtables=%lukB oom_score_adj=%hd",
    doc="after atomic_inc(&oom_victims); pid only until 72ba14deb40a (v6.9)")
WAKE_REAPER = _ev(
    "wake_reaper", "tracepoint", REAPER_WAKE,
    _TP + "mm/oom_kill.c:wake_oom_reaper (the OOM_REAPER_DELAY timer callback from v5.18)",
    tracefs="oom/wake_reaper", since="v4.13", columns=("wake",), fields=("pid",), fmt="pid=%d",
    doc="after the push on oom_reaper_list; from v5.18 not emitted when the timer finds "
        "MMF_OOM_SKIP")
START_TASK_REAPING = _ev(
    "start_task_reaping", "tracepoint", REAP_START,
    _TP + "mm/oom_kill.c:__oom_reap_task_mm (oom_reap_task_mm from v4.19)",
    tracefs="oom/start_task_reaping", since="v4.13", columns=("reap_start",), fields=("pid",),
    fmt="pid=%d")
FINISH_TASK_REAPING = _ev(
    "finish_task_reaping", "tracepoint", REAP_FINISH,
    _TP + "mm/oom_kill.c:__oom_reap_task_mm (oom_reap_task_mm from v4.19)",
    tracefs="oom/finish_task_reaping", since="v4.13", columns=("reap_finish",), fields=("pid",),
    fmt="pid=%d")
SKIP_TASK_REAPING = _ev(
    "skip_task_reaping", "tracepoint", REAP_SKIP,
    _TP + "mm/oom_kill.c:__oom_reap_task_mm / oom_reap_task_mm",
    tracefs="oom/skip_task_reaping", since="v4.13", columns=("skip", "reap_attempts"),
    fields=("pid",), fmt="pid=%d",
    doc="failed mmap trylock; v4.13 also a failed mmget_not_zero, v4.14+ MMF_OOM_SKIP seen "
        "under the lock")
OOM_SCORE_ADJ_UPDATE = _ev(
    "oom_score_adj_update", "tracepoint", None, _TP + "fs/proc/base.c:__set_oom_adj",
    tracefs="oom/oom_score_adj_update", fields=("pid", "comm", "oom_score_adj"),
    fmt="pid=%d comm=%s oom_score_adj=%hd")
RECLAIM_RETRY_ZONE = _ev(
    "reclaim_retry_zone", "tracepoint", None, _TP + "mm/page_alloc.c:should_reclaim_retry",
    tracefs="oom/reclaim_retry_zone", since="v4.11",
    fields=("node", "zone", "order", "reclaimable", "available", "min_wmark", "no_progress_loops",
            "wmark_check"),
    fmt="node=%d zone=%-8s order=%d reclaimable=%lu available=%lu min_wmark=%lu "
        "no_progress_loops=%d wmark_check=%d")
COMPACT_RETRY = _ev(
    "compact_retry", "tracepoint", None, _TP + "mm/page_alloc.c:should_compact_retry",
    tracefs="oom/compact_retry", since="v4.11",
    fields=("order", "priority", "compaction_result", "retries", "max_retries", "should_retry"),
    fmt="order=%d priority=%s compaction_result=%s retries=%d max_retries=%d should_retry=%d")

# --- scheduler / signal tracepoints ---------------------------------------
SIGNAL_GENERATE = _ev(
    "signal_generate", "signal", None, "include/trace/events/signal.h; kernel/signal.c:__send_signal",
    tracefs="signal/signal_generate", columns=("signal",),
    fields=("sig", "errno", "code", "comm", "pid", "grp", "group", "res", "result"),
    doc="SIGKILL to the victim from __oom_kill_process (do_send_sig_info)")
SCHED_PROCESS_EXIT = _ev(
    "sched_process_exit", "sched", EXIT_START,
    "include/trace/events/sched.h; kernel/exit.c:do_exit",
    tracefs="sched/sched_process_exit", columns=("exit_start", "exit_mm_done"),
    fields=("comm", "pid", "prio", "group_dead"),
    doc="with group_dead= (about v6.16 on) it fires before exit_mm (exit_start); before, after "
        "exit_mm (mm_released)")
SCHED_PROCESS_FREE = _ev(
    "sched_process_free", "sched", FREE, "include/trace/events/sched.h; kernel/exit.c:delayed_put_task_struct",
    tracefs="sched/sched_process_free", columns=("free",), fields=("comm", "pid", "prio"))

SUSPEND_RESUME = _ev(
    "suspend_resume", "power", None, "include/trace/events/power.h; kernel/power/suspend.c, "
    "kernel/power/process.c", tracefs="power/suspend_resume", fields=("action", "val", "state"),
    doc="begin/end of suspend phases (freeze_processes, suspend_enter, thaw_processes); enabled "
        "by the suspend scenarios only")

# --- printk lines (mm/oom_kill.c) -------------------------------------------
KILLED = _ev(
    "killed", "printk", KILL, "mm/oom_kill.c:__oom_kill_process", columns=("kill_printk",),
    fmt="%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB, "
        "shmem-rss:%lukB, UID:%u pgtables:%lukB oom_score_adj:%hd",
    doc="no prefix before v5.1; UID/pgtables/oom_score_adj from v5.4; the prefix is "
        "out_of_memory's message, \"Memory cgroup out of memory\" for a memcg OOM (6.12 "
        "mm/oom_kill.c:out_of_memory -> oom_kill_process); memory.oom.group prints one line per "
        "task of the group (oom_kill_memcg_member -> __oom_kill_process)")
KILL_DECISION = _ev(
    "kill_decision", "printk", None, "mm/oom_kill.c:oom_kill_process", until="v5.1",
    fmt="%s: Kill process %d (%s) score %u or sacrifice child")
REAPED = _ev(
    "reaped", "printk", REAP_FINISH, "mm/oom_kill.c:__oom_reap_task_mm (oom_reap_task_mm from v4.19)",
    since="v4.6", columns=("reaped_printk",),
    fmt="oom_reaper: reaped process %d (%s), now anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB")
REAP_UNABLE_LINE = _ev(
    "reap_unable", "printk", REAP_UNABLE, "mm/oom_kill.c:oom_reap_task", since="v4.6",
    columns=("unable_printk",), fmt="oom_reaper: unable to reap pid:%d (%s)",
    doc="from v4.17 not printed when MMF_OOM_SKIP is already set")
REAP_GIVING_UP_LINE = _ev(
    "reap_giving_up", "printk", REAP_GIVING_UP, "mm/oom_kill.c:oom_reap_task", since="v4.8",
    until="v4.9", fmt="oom_reaper: giving up pid:%d (%s)")
OOM_INVOKED = _ev(
    "oom_invoked", "printk", None, "mm/oom_kill.c:dump_header",
    fmt="%s invoked oom-killer: gfp_mask=%#x(%pGg), order=%d, oom_score_adj=%hd")
OOM_KILL_SUMMARY = _ev(
    "oom_kill_summary", "printk", None, "mm/oom_kill.c:dump_oom_summary", since="v4.19",
    fmt="oom-kill:constraint=%s,nodemask=%*pbl,cpuset=...,task=%s,pid=%d,uid=%d")
MM_PINNED = _ev(
    "mm_pinned", "printk", None, "mm/oom_kill.c:oom_kill_process / __oom_kill_process",
    fmt="oom killer %d (%s) has mm pinned by %d (%s)")
ALREADY_EXITING = _ev(
    "already_exiting", "printk", KILL, "mm/oom_kill.c:oom_kill_process", since="v5.15",
    fmt="%s: OOM victim %d (%s) is already exiting. Skip killing the task",
    doc="task_will_free_mem(victim): mark_oom_victim + queue_oom_reaper, no SIGKILL line")
OOM_GROUP_KILL = _ev(
    "oom_group_kill", "printk", None, "mm/memcontrol.c:mem_cgroup_print_oom_group", since="v4.19",
    fmt="Tasks in %s are going to be killed due to memory.oom.group set",
    doc="3d8b38eb81ca: before the kills of the group's tasks (4.19, 6.12 mm/oom_kill.c:"
        "oom_kill_process)")
NO_KILLABLE = _ev("no_killable", "printk", None, "mm/oom_kill.c:out_of_memory",
                  fmt="Out of memory and no killable processes...")
TASK_TABLE = _ev("task_table", "printk", None, "mm/oom_kill.c:dump_tasks", since="v4.19",
                 fmt="Tasks state (memory values in pages):")
TASK_COLUMNS = _ev("task_columns", "printk", None, "mm/oom_kill.c:dump_tasks",
                   fmt="[  pid  ]   uid  tgid total_vm      rss ... name")
TASK_ROW = _ev("task_row", "printk", None, "mm/oom_kill.c:dump_task",
               fmt="[%7d] %5d %5d %8lu %8lu ... %s")
USERSPACE_KILL = _ev("userspace_kill", "printk", None, "(user space: lmkd, systemd-oomd, earlyoom)",
                     doc="a user-space killer's log line: not a kernel kill")

# --- memcg counters ---------------------------------------------------------
MEMCG_USAGE = _ev("memcg_usage", "memcg", None,
                  "mm/memcontrol.c: memory.usage_in_bytes (v1) / memory.current (v2)")

TRACEPOINTS = tuple(n for n, e in EVENTS.items() if e.tracefs and e.tracefs.startswith("oom/"))
PRINTK = tuple(n for n, e in EVENTS.items() if e.kind == "printk")


def event(name: str) -> Event:
    return EVENTS[name]


def observation_of(name: str) -> str | None:
    """The abstract observation a recorded event of this name stands for.
    ``sched_process_exit`` depends on its fields: see :func:`exit_observation`."""
    e = EVENTS.get(name)
    return e.observation if e else None


def exit_observation(group_dead) -> str:
    """``sched_process_exit`` with ``group_dead=`` fires before exit_mm
    (exit_start), without it after exit_mm (mm_released)."""
    return EXIT_START if group_dead is not None else MM_RELEASED


def emitted(names, version) -> tuple:
    """The subset of ``names`` that ``version`` emits."""
    return tuple(n for n in names if EVENTS[n].emitted_by(version))


# --- analyses declare the events they need (LISA's idea) --------------------

@dataclass(frozen=True)
class Analysis:
    name: str
    required: tuple
    optional: tuple = ()
    doc: str = ""

    @property
    def events(self) -> tuple:
        return self.required + self.optional


ANALYSES: dict[str, Analysis] = {}


def analysis(name: str, required=(), optional=(), doc: str = "") -> Analysis:
    """Declare (or replace) an analysis and the events it reads."""
    unknown = [n for n in (*required, *optional) if n not in EVENTS]
    if unknown:
        raise KeyError(f"unknown event(s) {unknown}")
    a = Analysis(name, tuple(required), tuple(optional), doc)
    ANALYSES[name] = a
    return a


analysis("episodes", required=(MARK_VICTIM,),
         optional=(WAKE_REAPER, START_TASK_REAPING, FINISH_TASK_REAPING, SKIP_TASK_REAPING,
                   SIGNAL_GENERATE, SCHED_PROCESS_EXIT, SCHED_PROCESS_FREE, KILLED, REAPED,
                   REAP_UNABLE_LINE),
         doc="per-victim episodes and latencies (oomnb.trace.episodes)")
analysis("conformance", required=(MARK_VICTIM,),
         optional=(WAKE_REAPER, START_TASK_REAPING, FINISH_TASK_REAPING, SKIP_TASK_REAPING,
                   SCHED_PROCESS_EXIT, SCHED_PROCESS_FREE, REAPED, REAP_UNABLE_LINE),
         doc="replay of observed events through the kernel model")
analysis("suspend", optional=(SUSPEND_RESUME,),
         doc="the suspend window (freeze_processes .. thaw_processes) of the suspend scenarios")
analysis("oom_detection", optional=(RECLAIM_RETRY_ZONE, COMPACT_RETRY, OOM_SCORE_ADJ_UPDATE),
         doc="why the allocator gave up (not enabled by the collector by default)")


def tracefs_paths(analyses=("episodes", "conformance")) -> tuple:
    """tracefs ``events/`` paths of every tracepoint the named analyses read,
    in vocabulary order (what the collector enables)."""
    want = set()
    for a in analyses:
        want.update(ANALYSES[a].events)
    return tuple(e.tracefs for n, e in EVENTS.items() if n in want and e.tracefs)


def ftrace_fields() -> dict:
    """{event name: field names} for every event the ftrace reader knows."""
    return {n: list(e.fields) for n, e in EVENTS.items() if e.tracefs}


