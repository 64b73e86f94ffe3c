"""The one transition set shared by every kernel version.

Each :class:`Transition` is named after the kernel function it models and
carries its actor, its fairness class, a timing ``kind`` (``cpu``,
``lock``, ``io``, ``timer``, ``sleep``), the lock it acquires (if any), a
citation and a docstring that says what it leaves out.  ``oomnb explain
NAME`` prints all of that.

A transition's ``fire(kernel, scenario, state, instance)`` returns the
list of ``(next_state, tags)`` it can produce (empty = disabled).  Tags
are observations a property may use: ``deref_mm`` (the step reads the
victim's ``mm_struct``), ``walk_vmas`` (the reaper walks its VMAs),
``kill_W`` (a second victim was selected), ``disable_returned``
(``oom_killer_disable()`` returned true) and ``obs:...`` (what the step
emits, :mod:`oomnb.kernel.observe`).  IO completions (``aio_complete``,
``dstate_io_done``, ``dio_complete``) are steps of the ``IO`` actor, not of
a victim thread.

Citations are ``file:function`` with the versions whose code the step
follows, and the commit id where a change is credited.  Trees read:
Debian linux-source-6.12 (``/usr/src/linux-source-6.12.tar.xz``, cited as
"6.12") for every 6.x function, and the released 4.5.7, 4.8.17, 4.9 and
6.18.2 trees for the older and newer code (``oomnb/checker/DIFFERENCES.md``
says which tree each correction was checked in).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from . import timing
from .timing import Delay
from .state import (DEAD, DSTATE, EXIT_OOM, EXIT_OOM_EARLY, EXITING, FILES, FROZEN, HAS_MM, IN_MMPUT,
                    KWORKER, L_A, L_FREE, L_PM, L_REAPER, MEM_EXITED,
                    MEM_MAPPED, MEM_REAPED, MMF_NOT_REAPABLE, MMF_REAP_QUEUED, MMF_SKIP,
                    MMF_UNSTABLE, MMPUT, P_DIS_LOCK, P_DIS_WAIT, P_DONE, P_FREEZE, P_OFF, P_PASS2,
                    P_SUSP, PM_FREEZING, POST, R_ATTEMPT, R_DONE, R_IDLE, R_SLEEP, R_UNMAP,
                    RELEASED, RUN, TP_AIO, TP_DONE, TP_EM_FREE, TP_EM_SKIP, TP_EM_UNMAP, TP_NONE,
                    VMAS_CLEARED, VMAS_DANGLING, VMAS_FREEING, VMAS_INTACT, State)
from .state import MR_DONE, MR_GOT_MM, MR_IDLE, MR_LOCKED, SHARER, TP_EM_BARRIER, TP_EM_OOM
from .state import A_HOLDS, A_IDLE, A_WAITS, W_TASK
from .state import MEM_PARTLY, MEM_STILL_MAPPED

NO = ()
DEREF = frozenset({"deref_mm"})


@dataclass(frozen=True, eq=False)
class Transition:
    key: str             # unique id (CLI name)
    name: str            # kernel function(s) it models
    actor: str           # thread | owner | oom_reaper | A | pm | timer | IO | lock_holder | rcu
    kind: str            # cpu | lock | io | timer | sleep
    fair: str            # weak | strong | none
    fire: Callable
    cite: str
    lock: str | None = None
    per: str = "none"    # none | thread | timer
    versions: str = "all"
    delay: Delay = timing.CPU   # what decides its duration (oomnb.kernel.timing)

    @property
    def doc(self) -> str:
        return (self.fire.__doc__ or "").strip()

    @property
    def is_io(self) -> bool:
        """An IO completion: a step of the device, not of a victim thread."""
        return self.actor == "IO"

    def instances(self, k, sc, s):
        if self.per == "thread":
            return range(len(s.th))
        if self.per == "timer":
            return sorted(set(s.rtimers))
        return (None,)

    def enabled(self, k, sc, s, i=None) -> bool:
        """Guard: can this transition (instance ``i``) fire in ``s``?"""
        return bool(self.fire(k, sc, s, i))

    def apply(self, k, sc, s, i=None) -> list:
        """Effect: the successor states (a list: some steps are
        nondeterministic; empty when disabled)."""
        return [s2 for s2, _ in self.fire(k, sc, s, i)]

    def actor_of(self, s, i) -> str:
        if self.actor == "IO":
            return "IO"
        if self.per == "thread":
            return f"T{i}"
        if self.per == "timer":
            return "timer"
        if self.actor == "owner":
            return "kworker" if s.town == KWORKER else ("S" if s.town == SHARER else f"T{s.town}")
        return self.actor


# ----------------------------------------------------------------- helpers

def _set_th(s, i, pc=None, md=None, ever=None):
    th = list(s.th)
    opc, omd, oev = th[i]
    th[i] = (opc if pc is None else pc, omd if md is None else md, oev if ever is None else ever)
    return tuple(th)


def find_lock_task_mm(s) -> int:
    """Index of the first thread (in for_each_thread order) that still has
    ->mm, or -1 (v4.5 .. 6.18; 6.12 mm/oom_kill.c:find_lock_task_mm)."""
    for i, t in enumerate(s.th):
        if t[0] in HAS_MM:
            return i
    return -1


def freezing(k, sc, s, i, by_pm: bool = False) -> bool:
    """kernel/freezer.c:freezing_slow_path(p): user tasks freeze while
    pm_freezing or while their cgroup is frozen (``cgroup-frozen``), except
    OOM victims: ``test_tsk_thread_flag(p, TIF_MEMDIE)`` (4.8, 4.9, 6.12)
    or ``tsk_is_oom_victim(p)``, every thread of a group with
    signal->oom_mm (6.18, 59d4d36158ba "mm/oom_kill: thaw the entire OOM
    victim process").  v4.5 tests ``test_thread_flag(TIF_MEMDIE)``, the flag of
    *current*: a thread asking for itself (``by_pm`` false: try_to_freeze,
    __refrigerator) sees its own flag, but try_to_freeze_tasks (``by_pm``)
    sees the freezing task's, so it counts a running victim as not frozen
    (fixed in 4.8 by "freezer, oom: check TIF_MEMDIE on the correct task").
    Dead tasks (PF_NOFREEZE, set in do_task_dead) are ignored."""
    if s.pm not in PM_FREEZING and not sc.cgroup_frozen:
        return False
    pc, md, _ = s.th[i]
    if pc in (DEAD, RELEASED):
        return False
    ex = k.freeze_exempt
    if ex == "group":
        return not s.oom_mm
    if ex == "tif-of-current" and by_pm:
        return True
    return not md


def _mmdrop(s, n=1):
    return s._replace(mm_count=s.mm_count - n)


def mark_oom_victim(k, s, i):
    """mm/oom_kill.c:mark_oom_victim: test_and_set TIF_MEMDIE (return if it
    was set); v4.8 signal->oom_victims++; v4.9+ cmpxchg signal->oom_mm and
    mmgrab it; __thaw_task(tsk) (v4.5 .. 6.12) or thaw_process(tsk) (6.18)
    (implicit: the freezer exemption in :func:`freezing` lets the thread, or
    in 6.18 every thread, leave the refrigerator); oom_victims++.  With
    ``oom_victims_per_group`` (a patch) oom_victims counts the group once."""
    pc, md, ever = s.th[i]
    if md:
        return s
    if k.oom_victims_per_group:
        s = s._replace(th=_set_th(s, i, md=1, ever=1))
        if not s.sig_victims:
            s = s._replace(sig_victims=1, oom_victims=s.oom_victims + 1)
    else:
        s = s._replace(th=_set_th(s, i, md=1, ever=1), oom_victims=s.oom_victims + 1)
    if k.signal_oom_victims:
        s = s._replace(sig_victims=s.sig_victims + 1)
    if k.oom_mm and not s.oom_mm:
        s = s._replace(oom_mm=1, mm_count=s.mm_count + (1 if k.oom_mm_mmgrab else 0))
    return s


def wake_oom_reaper(k, s, i, tags):
    """Queue thread i for the reaper.  v4.8/v4.9 ``wake_oom_reaper``: skip if
    ``tsk == oom_reaper_list || tsk->oom_reaper_list`` else get_task_struct
    and LIFO push.  v5.18+ ``queue_oom_reaper``: skip if
    test_and_set_bit(MMF_OOM_REAP_QUEUED) (v5.0+), get_task_struct, arm
    tsk->oom_reaper_timer (OOM_REAPER_DELAY).  ``i`` may be ``W_TASK``
    (oom-group): the flags are then W's mm's."""
    if not k.has_reaper:
        return s
    if k.queue == "timer":
        if k.queue_mmf_test:
            if i != W_TASK:
                tags.add("deref_mm")
            if _mmf_of(s, i) & MMF_REAP_QUEUED:
                return s
            s = _with_mmf(s, i, _mmf_of(s, i) | MMF_REAP_QUEUED)
        if not reaper_delayed(k, s, i):
            return queue_undelayed(k, s, i, tags)
        return s._replace(rrefs=s.rrefs + 1, rtimers=tuple(sorted(s.rtimers + (i,))))
    if k.queue_mmf_test:
        if i != W_TASK:
            tags.add("deref_mm")
        if _mmf_of(s, i) & MMF_REAP_QUEUED:
            return s
        s = _with_mmf(s, i, _mmf_of(s, i) | MMF_REAP_QUEUED)
    lst = s.rlist
    if lst and lst[0] == i:
        return s
    if i in lst[:-1]:                      # tsk->oom_reaper_list != NULL
        return s
    if s.rtask == i and s.rnext:           # stale pointer of the task being reaped
        return s
    tags.add(f"obs:wake:{task_label(i)}")
    return s._replace(rrefs=s.rrefs + 1, rlist=(i,) + lst)


def task_label(i) -> str:
    """``T0``.. for a thread of V, ``W`` for W (oom-group)."""
    return "W" if i == W_TASK else f"T{i}"


def _mmf_of(s, i) -> int:
    """mm->flags of the mm of reaper entry ``i`` (V's, or W's for ``W_TASK``)."""
    return s.w_mmf if i == W_TASK else s.mmf


def _with_mmf(s, i, v):
    return s._replace(w_mmf=v) if i == W_TASK else s._replace(mmf=v)


def kill_victim(k, s, tags, sc=None):
    """oom_kill_process(V): the thread that gets TIF_MEMDIE is
    find_lock_task_mm(V); SIGKILL to the group; mark_oom_victim; then
    wake_oom_reaper / queue_oom_reaper of that thread.  The whole kill is
    one step under oom_lock (the order of SIGKILL and mark_oom_victim,
    [L] for v4.5, does not matter inside one step).  The
    ``task_will_free_mem(p)`` shortcut has the same effect here."""
    t = find_lock_task_mm(s)
    if t < 0:
        return s       # 6.x: "OOM victim ... is already exiting. Skip killing the task"
    s = s._replace(killed=1)
    s2 = mark_oom_victim(k, s, t)
    tags.add(f"obs:kill:T{t}" if s2 is not s else f"obs:kill_again:T{t}")
    if sc is not None and sc.init_sharer and k.init_sharer == "hide":
        return init_pins_mm(k, s2)
    return wake_oom_reaper(k, s2, t, tags)


def select_bad_process(k, s, tags):
    """Returns 'abort', 'V', 'W' or 'none'.  V (the memory hog) outranks W."""
    v_iter = any(t[0] != RELEASED for t in s.th)
    if k.oom_mm and v_iter and s.oom_mm:
        tags.add("deref_mm")       # oom_evaluate_task reads signal->oom_mm->flags
    elif k.signal_oom_victims and s.sig_victims > 0 and find_lock_task_mm(s) >= 0:
        tags.add("deref_mm")       # v4.8 scan: find_lock_task_mm(task)->mm->flags
    if k.oom_abort(k, s):
        return "abort"
    if v_iter and k.victim_candidate(k, s):
        return "V"
    if not s.w_killed:
        return "W"
    return "none"


def out_of_memory(k, s, current, tags, sc=None):
    """mm/oom_kill.c:out_of_memory (with select_bad_process and
    oom_kill_process), called with oom_lock held.  Returns false at once if
    oom_killer_disabled.  ``current`` is a victim thread index (the
    task_will_free_mem(current) shortcut: mark current and queue it) or
    None for the allocating task A.  Leaves out: notifier chain,
    constrained_alloc, panic_on_oom, sysrq, the badness arithmetic (V
    always outranks W)."""
    if s.disabled:
        return s
    if current is not None and s.th[current][0] in HAS_MM and s.killed \
            and k.task_will_free_mem(k, s) and sharers_will_free_mem(k, sc, s):
        s2 = mark_oom_victim(k, s, current)
        if s2 is not s:
            tags.add(f"obs:mark:T{current}")
        return wake_oom_reaper(k, s2, current, tags)
    sel = select_bad_process(k, s, tags)
    if sel == "V":
        return kill_victim(k, s, tags, sc)
    if sel == "W":
        tags.add("kill_W")
        return s._replace(w_killed=1)
    return s


def _exit_oom_victim(k, s, i, pc=None, **changes):
    """exit_oom_victim() for thread i; ``pc``: where the thread goes on, and
    ``changes``: other fields the same step sets (one _replace)."""
    if not s.th[i][1]:
        if pc is not None:
            changes["th"] = _set_th(s, i, pc=pc)
        return s._replace(**changes) if changes else s
    changes["th"] = _set_th(s, i, pc=pc, md=0)
    if not k.oom_victims_per_group:      # per group: uncounted at the group's last exit
        changes["oom_victims"] = s.oom_victims - 1
        if k.signal_oom_victims:
            changes["sig_victims"] = s.sig_victims - 1
    return s._replace(**changes)


def _mmput_users(k, s):
    """mmput/mmput_async: atomic_dec_and_test(&mm->mm_users)."""
    return s._replace(mm_users=s.mm_users - 1), s.mm_users - 1 == 0


def _reader_holds(s) -> bool:
    return s.rpc == R_UNMAP or s.mrpc == MR_LOCKED


# ------------------------------------------------------------ transitions

def t_pm_start(k, sc, s, i):
    """kernel/power/process.c:freeze_processes (start, every version):
    pm_freezing = true; from now on user tasks freeze at their next freeze
    point.  Suspend may start at any step (not a fair transition).  Happens
    at most once."""
    if not sc.suspend or s.pm != P_OFF:
        return NO
    return [(s._replace(pm=P_FREEZE), NO)]


def _all_frozen(k, sc, s) -> bool:
    for j, t in enumerate(s.th):
        if t[0] != FROZEN and freezing(k, sc, s, j, by_pm=True):
            return False
    return True


def t_try_to_freeze_tasks(k, sc, s, i):
    """kernel/power/process.c:try_to_freeze_tasks(true) succeeds: freeze_task
    finds every user thread that freezing() applies to in the refrigerator
    (threads in do_exit or D state that are not exempt keep it from
    succeeding).  On success freeze_processes calls oom_killer_disable
    (v4.5, v4.8, v4.9, 6.12, 6.18).  v4.7/v4.8 then freeze once more,
    "Double checking all user space processes after OOM killer disable"
    (74070542099c "oom, suspend: fix oom_reaper vs. oom_killer_disable
    race", removed again by 7d2e7a22cf27 in v4.9): this step also ends that
    second pass, after which freeze_processes returns 0."""
    if s.pm not in (P_FREEZE, P_PASS2) or not _all_frozen(k, sc, s):
        return NO
    return [(s._replace(pm=P_DIS_LOCK if s.pm == P_FREEZE else P_SUSP), NO)]


def t_freeze_timeout(k, sc, s, i):
    """try_to_freeze_tasks times out (freeze_timeout_msecs = 20 s, one
    abstract timer step): freeze_processes fails with -EBUSY and
    thaw_processes() runs (oom_killer_enable() if it was disabled)
    (kernel/power/process.c, every version)."""
    if s.pm not in (P_FREEZE, P_PASS2) or _all_frozen(k, sc, s):
        return NO
    return [(s._replace(pm=P_DONE, disabled=0), NO)]


def t_oom_killer_disable_lock(k, sc, s, i):
    """mm/oom_kill.c:oom_killer_disable, first half: mutex_lock_killable(
    &oom_lock); oom_killer_disabled = true; mutex_unlock (v4.5, v4.8, v4.9,
    6.12, 6.18).  One step: the lock is not held across steps."""
    if s.pm != P_DIS_LOCK or s.oom_lock != L_FREE:
        return NO
    return [(s._replace(pm=P_DIS_WAIT, disabled=1), NO)]


def t_oom_killer_disable_return(k, sc, s, i):
    """oom_killer_disable returns true: wait_event(oom_victims_wait,
    !atomic_read(&oom_victims)) completes (v4.5/v4.8 without timeout, v4.9+
    wait_event_interruptible_timeout).  The disable_contract window opens;
    without a second freezing pass freeze_processes returns 0 at once and
    suspend proceeds (the suspend_exclusion window)."""
    if s.pm != P_DIS_WAIT or s.oom_victims != 0:
        return NO
    return [(s._replace(pm=P_PASS2 if k.second_freeze_pass else P_SUSP), frozenset({"disable_returned"}))]


def t_oom_killer_disable_timeout(k, sc, s, i):
    """v4.9+ oom_killer_disable(timeout): the 20 s freeze_timeout expires
    (one abstract timer step) -> oom_killer_enable(); return false;
    freeze_processes fails and thaws (7d2e7a22cf27 "oom, suspend: fix
    oom_killer_disable vs. pm suspend properly", v4.9; 6.12)."""
    if not k.disable_timeout or s.pm != P_DIS_WAIT or s.oom_victims == 0:
        return NO
    return [(s._replace(pm=P_DONE, disabled=0), NO)]


def t_thaw_processes(k, sc, s, i):
    """kernel/power/process.c:thaw_processes on resume: oom_killer_enable()
    then thaw every task (pm_freezing = false) (every version)."""
    if s.pm != P_SUSP:
        return NO
    return [(s._replace(pm=P_DONE, disabled=0), NO)]


# --- allocating task A ---------------------------------------------------

def _a_wants(sc, s) -> bool:
    if s.w_killed:
        return False
    return bool(sc.second_oom or not s.killed)


def t_alloc_may_oom(k, sc, s, i):
    """mm/page_alloc.c:__alloc_pages_may_oom: mutex_trylock(&oom_lock) by
    the allocating task A (on failure A sleeps a jiffy and retries, which
    the model shows as the step being disabled while the lock is held).
    Without ``second-oom`` A invokes the OOM killer once; with it, any
    number of times until W is killed."""
    if s.apc != 0 or s.oom_lock != L_FREE or not _a_wants(sc, s) or sc.memcg_oom:
        return NO
    return [(s._replace(apc=1, oom_lock=L_A), NO)]


def t_a_out_of_memory(k, sc, s, i):
    """out_of_memory() by A under oom_lock (select_bad_process ->
    oom_kill_process), then mutex_unlock(&oom_lock).  v4.5/v4.8 also end
    with schedule_timeout_killable(1), folded in.  (The memcg charger:
    ``memcg_out_of_memory``.)"""
    if s.apc != 1 or sc.memcg_oom:
        return NO
    tags = set()
    s2 = out_of_memory(k, s, None, tags, sc)
    return [(s2._replace(apc=0, oom_lock=L_FREE), frozenset(tags))]


# --- victim threads --------------------------------------------------------

def t_try_to_freeze(k, sc, s, i):
    """kernel/freezer.c:__refrigerator entry from get_signal()/return to
    user: a RUN thread that freezing() applies to freezes (killed or not:
    get_signal() calls try_to_freeze() before dequeuing SIGKILL)."""
    if s.th[i][0] != RUN or not freezing(k, sc, s, i):
        return NO
    return [(s._replace(th=_set_th(s, i, pc=FROZEN)), NO)]


def t_refrigerator_exit(k, sc, s, i):
    """kernel/freezer.c:__refrigerator loop exit: the thread leaves when
    freezing(current) is false (thawed by mark_oom_victim's __thaw_task /
    6.18 thaw_process, or by thaw_processes).  A thread woken while
    freezing(current) still holds goes back to sleep (no step)."""
    if s.th[i][0] != FROZEN or freezing(k, sc, s, i):
        return NO
    return [(s._replace(th=_set_th(s, i, pc=RUN)), NO)]


def t_do_exit(k, sc, s, i):
    """get_signal() dequeues SIGKILL -> kernel/exit.c:do_exit ->
    exit_signals() sets PF_EXITING.  Leaves out the coredump wait (the
    robust-futex walk is ``exit_robust_list``, at the start of exit_mm)."""
    if s.th[i][0] != RUN or not s.killed or freezing(k, sc, s, i):
        return NO
    return [(s._replace(th=_set_th(s, i, pc=EXITING)), NO)]


def t_victim_out_of_memory(k, sc, s, i):
    """A killed victim thread allocates before reaching do_exit and enters
    out_of_memory() itself (``victim-oom`` only): with oom_lock (taken and
    released inside this step) the task_will_free_mem(current) shortcut
    marks current and wakes/queues the reaper for it (v4.7+, the path of
    "oom, oom_reaper: do not enqueue same task twice", v5.0).  Not fair:
    the thread may or may not allocate."""
    if not sc.victim_oom or s.th[i][0] != RUN or not s.killed or s.oom_lock != L_FREE \
            or freezing(k, sc, s, i):
        return NO
    tags = set()
    s2 = out_of_memory(k, s, i, tags, sc)
    if s2 == s:
        return NO
    return [(s2, frozenset(tags))]


def t_dstate_io_done(k, sc, s, i):
    """The uninterruptible IO the dstate-thread waits for completes and
    wakes it (io_schedule returns); a step of the device (the ``IO``
    actor), not of the thread: what the thread does next (freeze, or
    do_exit) is its own step.  IO completion is not fair: it may never
    happen."""
    if s.th[i][0] != DSTATE:
        return NO
    return [(s._replace(th=_set_th(s, i, pc=RUN)), NO)]


def t_exit_mm(k, sc, s, i):
    """kernel/exit.c:exit_mm up to mmput: mmap_read_lock(mm) (down_read,
    blocks while another process holds it for write), mmgrab_lazy_tlb /
    atomic_inc(&mm->mm_count), task_lock; current->mm = NULL;
    mmap_read_unlock (v4.5-6.18; 6.12 kernel/exit.c).  The robust-futex
    walk at its start is its own step (``exit_robust_list``, scenario
    robust-futex).  Leaves out the rest of mm_release, sync_mm_rss,
    core_state, mm_update_next_owner."""
    if s.th[i][0] != EXITING or s.lockf or s.robust >> i & 1:    # exit_robust_list first
        return NO
    nxt = EXIT_OOM_EARLY if k.exit_oom_victim_before_mmput else MMPUT
    return [(s._replace(th=_set_th(s, i, pc=nxt), mm_count=s.mm_count + 1), NO)]


def _after_mmput(k, s, i):
    """Where exit_mm continues after mmput returns."""
    if k.exit_oom_victim_before_mmput:
        return POST
    return EXIT_OOM if s.th[i][1] else POST


def t_mmput(k, sc, s, i):
    """kernel/fork.c:mmput from exit_mm: atomic_dec_and_test(&mm->mm_users);
    the last user runs __mmput inline (every version).  If TIF_MEMDIE is
    clear when mmput returns the
    ``if (test_thread_flag(TIF_MEMDIE))`` test is folded in (it can only
    be cleared, never set, in between)."""
    if s.th[i][0] != MMPUT:
        return NO
    users = s.mm_users - 1                  # atomic_dec_and_test(&mm->mm_users)
    if users == 0:
        return [(s._replace(mm_users=0, th=_set_th(s, i, pc=IN_MMPUT), town=i, tpc=TP_AIO), NO)]
    return [(s._replace(mm_users=users, th=_set_th(s, i, pc=_after_mmput(k, s, i))), NO)]


def t_exit_oom_victim(k, sc, s, i):
    """kernel/exit.c:exit_mm tail: ``if (test_thread_flag(TIF_MEMDIE))
    exit_oom_victim()`` -> mm/oom_kill.c:exit_oom_victim: clear TIF_MEMDIE,
    oom_victims-- and wake oom_victims_wait at 0 (v4.8: test_and_clear and
    signal->oom_victims-- too) (v4.5 .. 6.18: the call site stayed in
    exit_mm).  This is the end of exit_mm.  (Also the early call of a patch
    that moves it before mmput; with ``oom_victims_per_group`` it only
    clears TIF_MEMDIE.)"""
    pc = s.th[i][0]
    if pc == EXIT_OOM:
        return [(_exit_oom_victim(k, s, i, pc=POST), NO)]
    if pc == EXIT_OOM_EARLY:
        return [(_exit_oom_victim(k, s, i, pc=MMPUT), NO)]
    return NO


def t_exit_files(k, sc, s, i):
    """kernel/exit.c:do_exit after exit_mm: exit_sem, then exit_files ->
    put_files_struct -> close_files -> filp_close, which calls each file's
    ->flush (a driver may do device IO there); the last fput() of a file
    queues __fput as task work (6.12 kernel/exit.c:do_exit and
    fs/file.c:close_files; same order in v4.5 .. 6.18).  exit_fs and the
    namespace/ctty steps up to exit_task_work are folded in."""
    if s.th[i][0] != POST:
        return NO
    return [(s._replace(th=_set_th(s, i, pc=FILES)), NO)]


def _group_exit(k, s, i):
    """A patch's exit_oom_victim at the group's last exit (after
    exit_task_work of the last thread that is not yet dead)."""
    if k.exit_oom_victim_at != "group_exit" or not s.sig_victims:
        return s
    if any(t[0] not in (DEAD, RELEASED) for j, t in enumerate(s.th) if j != i):
        return s
    return s._replace(sig_victims=0, oom_victims=s.oom_victims - 1)


def t_do_exit_tail(k, sc, s, i):
    """kernel/exit.c:do_exit from exit_task_work: task_work_run -> __fput
    -> each last-closed file's ->release (device IO possible), then
    exit_thread, cgroup_exit, exit_notify, do_task_dead (PF_NOFREEZE); the
    final context switch drops the lazy-TLB mm reference
    (finish_task_switch -> mmdrop) (6.12 kernel/exit.c:do_exit; same order
    in v4.5 .. 6.18)."""
    if s.th[i][0] != FILES:
        return NO
    s = _group_exit(k, s, i)
    return [(s._replace(th=_set_th(s, i, pc=DEAD), mm_count=s.mm_count - 1), NO)]   # mmdrop


def t_release_task(k, sc, s, i):
    """kernel/exit.c:release_task: the task leaves the task list and its
    task_struct reference is put (non-leaders autoreap; the leader T0 is
    reaped by its parent after the other threads).  V stops being iterated
    by select_bad_process once every thread is released (every version)."""
    if s.th[i][0] != DEAD:
        return NO
    if i == 0 and any(t[0] != RELEASED for t in s.th[1:]):
        return NO
    return [(s._replace(th=_set_th(s, i, pc=RELEASED)), NO)]


def t_free_signal_struct(k, sc, s, i):
    """kernel/fork.c:free_signal_struct, run when the last task_struct of
    V is freed (all threads released and every reference taken by
    wake/queue_oom_reaper put): ``if (sig->oom_mm) mmdrop_async(oom_mm)``
    (26db62f179d1 "oom: keep mm of the killed task available", v4.9; 6.12).
    The async __mmdrop is folded in."""
    if s.sig_freed or any(t[0] != RELEASED for t in s.th) or s.rrefs:
        return NO
    s2 = s._replace(sig_freed=1)
    if k.oom_mm and s.oom_mm:
        return [(_mmdrop(s2), DEREF)]
    return [(s2, NO)]


# --- __mmput (victim thread or kworker) ------------------------------------

def _owner_ok(s) -> bool:
    if s.town < 0:
        return False
    if s.town in (KWORKER, SHARER):
        return True
    return s.th[s.town][0] == IN_MMPUT


def t_exit_aio(k, sc, s, i):
    """kernel/fork.c:__mmput -> uprobe_clear_state, fs/aio.c:exit_aio: waits
    (uninterruptibly) for the mm's in-flight AIO (aio-blocked) (same order
    in v4.5 .. 6.18)."""
    if s.tpc != TP_AIO or not _owner_ok(s) or s.io:
        return NO
    return [(s._replace(tpc=_exit_mmap_entry(k, s)), NO)]


def t_exit_mmap_unmap(k, sc, s, i):
    """mm/mmap.c:exit_mmap, unmap part.  v4.5-v4.13: mmu_notifier_release,
    munlock, unmap_vmas with no mmap lock, after which free_pgtables starts
    (the VMAs are being freed without a lock).  v6.1+: mmap_read_lock,
    unmap_vmas, mmap_read_unlock (bf3980c85212; 6.12 mm/mmap.c:exit_mmap)."""
    if s.tpc != TP_EM_UNMAP or not _owner_ok(s):
        return NO
    mem = MEM_EXITED if s.mem in MEM_STILL_MAPPED else s.mem
    if k.exit_mmap_locked:
        if s.lockf:
            return NO
        nxt = TP_EM_SKIP if k.exit_mmap_sets_skip else TP_EM_FREE
        return [(s._replace(tpc=nxt, mem=mem), NO)]
    nxt = TP_EM_SKIP if k.exit_mmap_sets_skip else TP_EM_FREE
    return [(s._replace(tpc=nxt, mem=mem, vmas=VMAS_FREEING), NO)]


def t_exit_mmap_skip(k, sc, s, i):
    """mm/mmap.c:exit_mmap: set_bit(MMF_OOM_SKIP, &mm->flags) after
    unmap_vmas "because the memory has been already freed" (v6.1+ for
    every mm, bf3980c85212; 6.12 source)."""
    if s.tpc != TP_EM_SKIP or not _owner_ok(s):
        return NO
    return [(s._replace(tpc=TP_EM_FREE, mmf=s.mmf | MMF_SKIP), NO)]


def t_exit_mmap_free(k, sc, s, i):
    """mm/mmap.c:exit_mmap free part + kernel/fork.c:__mmput tail:
    free_pgtables, remove_vma (v6.1+: under mmap_write_lock, then
    __mt_destroy empties the tree); v4.9-v4.13 __mmput sets MMF_OOM_SKIP;
    then set_mm_exe_file, mmlist, module_put and mmdrop(mm).  The owner
    then returns from mmput (thread) or the work item ends (kworker)."""
    if s.tpc != TP_EM_FREE or not _owner_ok(s):
        return NO
    if k.exit_mmap_locked and (s.lockf or _reader_holds(s)):
        return NO
    vmas = VMAS_CLEARED if k.tree_cleared else VMAS_DANGLING
    mmf = s.mmf | MMF_SKIP if k.mmput_sets_skip else s.mmf
    mm_count = s.mm_count - 1                # mmdrop(mm)
    if s.town in (KWORKER, SHARER):
        return [(s._replace(vmas=vmas, mmf=mmf, tpc=TP_DONE, mm_count=mm_count, town=-1), NO)]
    j = s.town
    return [(s._replace(vmas=vmas, mmf=mmf, tpc=TP_DONE, mm_count=mm_count, town=-1,
                        th=_set_th(s, j, pc=_after_mmput(k, s, j))), NO)]


# --- IO / lock holder ---------------------------------------------------

def t_aio_complete(k, sc, s, i):
    """fs/aio.c:aio_complete: the victim's in-flight AIO completes, whether
    or not its submitter runs or is frozen; a step of the device (the
    ``IO`` actor), never of a victim thread.  IO completion is not fair, it
    may never happen."""
    if not s.io:
        return NO
    return [(s._replace(io=0), NO)]


def t_lock_release(k, sc, s, i):
    """The other process releases V's mmap lock (up_write).  Only in the
    ``mmap-lock`` scenario (possible, not fair); ``mmap-lock-forever``
    never releases it."""
    if not s.lockf or not sc.lock_release:
        return NO
    return [(s._replace(lockf=0), NO)]


# --- oom_reaper kthread -----------------------------------------------------

def t_oom_reaper_pop(k, sc, s, i):
    """mm/oom_kill.c:oom_reaper loop: wait_event_freezable(oom_reaper_wait,
    oom_reaper_list != NULL); pop the head under oom_reaper_lock (its stale
    ->oom_reaper_list stays until oom_reap_task ends) (v4.8, v4.9, 6.12).
    ``reaper_freezable``: oom_reaper() calls set_freezable() (v4.8,
    e26796066fdf "oom: make oom_reaper freezable"; dropped by 7d2e7a22cf27
    in v4.9; back in 6.12), so once freeze_processes has returned 0 and
    freeze_kernel_threads runs, the idle reaper stays frozen in
    wait_event_freezable until thaw_processes: it pops nothing while
    suspended.  A reaper that is not freezable keeps reaping."""
    if not k.has_reaper or s.rpc != R_IDLE or not s.rlist:
        return NO
    if k.reaper_freezable and s.pm == P_SUSP:
        return NO
    t, rest = s.rlist[0], s.rlist[1:]
    return [(s._replace(rpc=R_ATTEMPT, rtask=t, ratt=0, rnext=1 if rest else 0, rlist=rest), NO)]


def t_reap_attempt(k, sc, s, i):
    """One attempt of oom_reap_task's loop, up to the unmap.
    v4.8 __oom_reap_task: mutex_lock(&oom_lock); find_lock_task_mm
    (none -> "work done", ret true); mm_count++; down_read_trylock (fail ->
    ret false); mmget_not_zero (fail -> ret true, no flag).
    v4.9 __oom_reap_task_mm: mm = signal->oom_mm; mutex_lock(
    &oom_lock); down_read_trylock; mmget_not_zero.
    v6.18 oom_reap_task_mm (212925802454, v4.14; 6.12 mm/oom_kill.c:oom_reap_task_mm):
    mmap_read_trylock; MMF_OOM_SKIP under the lock -> ret true.
    Trylock, find and gates are one step (under oom_lock in v4.8/v4.9).
    A partial reap (a VMA whose MMU notifier refused) is a branch of
    ``reap_unmap``."""
    if s.rpc != R_ATTEMPT or s.rtask == W_TASK:
        return NO
    if k.reaper_oom_lock and s.oom_lock != L_FREE:
        return NO
    tags = set()
    lock = L_REAPER if k.reaper_oom_lock else s.oom_lock
    att = s.ratt + 1
    if k.reaper_mm_lookup == "find_lock_task_mm":
        if find_lock_task_mm(s) < 0:                # "work done": nothing to reap
            return [(s._replace(rpc=R_DONE, ratt=att), frozenset({"obs:reap_nomm"}))]
        tags.add("deref_mm")
        extra_count = 1
    else:
        tags.add("deref_mm")
        extra_count = 0
    if s.lockf:                                   # trylock fails
        return [(s._replace(rpc=R_SLEEP, ratt=att), frozenset(tags | {"obs:reap_skip"}))]
    if k.reaper_mmget_gate:
        if s.mm_users == 0:                       # mmget_not_zero fails
            return [(s._replace(rpc=R_DONE, ratt=att), frozenset(tags | {"obs:reap_gate"}))]
        s = s._replace(mm_users=s.mm_users + 1)
    if k.reaper_skip_check and s.mmf & MMF_SKIP:
        return [(s._replace(rpc=R_DONE, ratt=att), frozenset(tags | {"obs:reap_skip"}))]
    return [(s._replace(rpc=R_UNMAP, ratt=att, oom_lock=lock,
                        mm_count=s.mm_count + extra_count), frozenset(tags | {"obs:reap_start"}))]


def t_reap_unmap(k, sc, s, i):
    """__oom_reap_task_mm unmap: (v4.9+ set MMF_UNSTABLE) walk the VMAs and
    unmap_page_range every reapable one (v6.x mas_for_each_rev, reverse
    order), up_read/mmap_read_unlock; v4.8 sets MMF_OOM_REAPED; v4.8/v4.9
    mmput_async (the last put schedules __mmput on a kworker) and release
    oom_lock; v4.8 mmdrop.  Second outcome (``mmu-notifier``, v4.19+,
    93065ac753e4): mmu_notifier_invalidate_range_start_nonblock() returns
    -EAGAIN for the notifier's VMA, which stays mapped while the others are
    unmapped (``mem`` = reaped partly); no "oom_reaper: reaped process"
    line, finish_task_reaping, and the attempt fails: HZ/10 sleep and retry,
    after MAX_OOM_REAP_RETRIES "unable to reap" and MMF_OOM_SKIP (4.19 tree
    and 6.18 mm/oom_kill.c:__oom_reap_task_mm, oom_reap_task_mm).  Pages
    pinned by in-flight direct IO (``odirect``) lose their PTEs here like any
    other (anon-rss drops) but stay allocated until ``dio_complete``."""
    if s.rpc != R_UNMAP or s.rtask == W_TASK:
        return NO
    tags = {"deref_mm", "walk_vmas", "obs:reap_finish"}
    mem = s.mem
    if s.vmas == VMAS_INTACT and mem in MEM_STILL_MAPPED:
        mem = MEM_REAPED
    mmf = s.mmf
    if k.reaper_sets_unstable:
        mmf |= MMF_UNSTABLE
    if k.reaper_mm_lookup == "find_lock_task_mm":
        mmf |= MMF_SKIP                          # set_bit(MMF_OOM_REAPED)
    changes = {"mem": mem, "mmf": mmf, "rpc": R_DONE}
    if k.reaper_mmget_gate:                  # mmput_async: atomic_dec_and_test(&mm->mm_users)
        changes["mm_users"] = s.mm_users - 1
        if s.mm_users == 1:
            changes.update(town=KWORKER, tpc=TP_AIO)
    if k.reaper_mm_lookup == "find_lock_task_mm":
        changes["mm_count"] = s.mm_count - 1     # mmdrop
    if k.reaper_oom_lock:
        changes["oom_lock"] = L_FREE
    return [(s._replace(**changes), frozenset(tags))] + reap_partly(k, sc, s)


def t_reap_sleep(k, sc, s, i):
    """schedule_timeout_idle(HZ/10) after a failed attempt (one abstract
    step); after MAX_OOM_REAP_RETRIES (``Kernel.max_reap_retries``, 10)
    failures the loop ends."""
    if s.rpc != R_SLEEP or s.rtask == W_TASK:
        return NO
    if s.ratt < k.max_reap_retries:
        return [(s._replace(rpc=R_ATTEMPT), NO)]
    return [(s._replace(rpc=R_DONE, ratt=k.max_reap_retries + 1), NO)]


def t_oom_reap_task_done(k, sc, s, i):
    """mm/oom_kill.c:oom_reap_task tail.  v4.8: after exhaustion
    find_lock_task_mm -> MMF_OOM_NOT_REAPABLE, on the second exhaustion
    MMF_OOM_REAPED; tsk->oom_reaper_list = NULL; exit_oom_victim(tsk)
    (remote, test_and_clear); put_task_struct.  v4.9+ (v4.9, 6.12):
    ``done:`` tsk->oom_reaper_list = NULL; set_bit(MMF_OOM_SKIP) always;
    put_task_struct."""
    if s.rpc != R_DONE or s.rtask == W_TASK:
        return NO
    tags = set()
    exhausted = s.ratt > k.max_reap_retries
    t = s.rtask
    mmf, gave = s.mmf, s.gave_up
    if exhausted:
        # "unable to reap" (v4.8/v4.9 always; from v4.17 only without MMF_OOM_SKIP)
        tags.add("obs:unable" if not (k.unable_quiet_if_skip and mmf & MMF_SKIP)
                 else "obs:unable_quiet")
    if k.reaper_done == "two-strike":
        if exhausted and find_lock_task_mm(s) >= 0:
            tags.add("deref_mm")
            if mmf & MMF_NOT_REAPABLE:
                mmf |= MMF_SKIP
                gave = 1
                tags.add("obs:giving_up")
            else:
                mmf |= MMF_NOT_REAPABLE
    elif k.reaper_done == "always-skip":
        tags.add("deref_mm")
        if exhausted and not mmf & MMF_SKIP:
            gave = 1
        mmf |= MMF_SKIP
    elif k.reaper_done == "skip-on-success":
        tags.add("deref_mm")
        if not exhausted:
            mmf |= MMF_SKIP
    done = {"mmf": mmf, "gave_up": gave, "rpc": R_IDLE, "rtask": -1, "ratt": 0, "rnext": 0,
            "rrefs": s.rrefs - 1}
    if k.reaper_remote_exit_oom_victim:
        return [(_exit_oom_victim(k, s, t, **done), frozenset(tags))]
    return [(s._replace(**done), frozenset(tags))]


def t_wake_oom_reaper_timer(k, sc, s, i):
    """v5.18+ mm/oom_kill.c:wake_oom_reaper(struct timer_list *), the
    OOM_REAPER_DELAY (2*HZ) timer callback (one abstract timer step): if
    the oom_mm has MMF_OOM_SKIP, put_task_struct and stop; else push on
    oom_reaper_list and wake the reaper (e4a38402c36e; 6.12 source).  The
    timer of W (oom-group) reads W's mm; the robust-futex timing assumption
    holds back V's timer only."""
    if i not in s.rtimers or (i != W_TASK and walk_pending_within_delay(k, sc, s)):
        return NO
    lst = list(s.rtimers)
    lst.remove(i)
    s = s._replace(rtimers=tuple(lst))
    deref = frozenset() if i == W_TASK else DEREF
    if _mmf_of(s, i) & MMF_SKIP:
        return [(s._replace(rrefs=s.rrefs - 1), deref)]
    return [(s._replace(rlist=(i,) + s.rlist), frozenset(deref | {f"obs:wake:{task_label(i)}"}))]


# --- v4.14-v6.0: the OOM block at the top of exit_mmap ----------------------

def _exit_mmap_entry(k, s) -> int:
    """Where exit_mmap starts after exit_aio: v4.14-v6.0 ``if
    (unlikely(mm_is_oom_victim(mm)))`` enter the OOM block.  The mm is a
    victim iff mark_oom_victim installed signal->oom_mm (v4.15+:
    set_bit(MMF_OOM_VICTIM) next to it, 4837fe37adff; v4.14 tested
    tsk_is_oom_victim(current), the same here since __mmput's owner is a
    thread of V).  Nothing can mark the mm any more: no thread has it."""
    victim = bool(s.oom_mm)
    if k.exit_mmap_victim_test == "current":       # tsk_is_oom_victim(current), v4.14
        victim = victim and s.town not in (KWORKER, SHARER)
    if k.exit_mmap_oom_barrier and victim:
        return TP_EM_OOM
    return TP_EM_UNMAP


def t_exit_mmap_oom(k, sc, s, i):
    """mm/mmap.c:exit_mmap, OOM block (v4.14-v6.0; 5.15
    mm/mmap.c:exit_mmap): v4.19+ ``(void)__oom_reap_task_mm(mm)`` -- the
    exiting task reaps its own mm "to free as much memory as possible"
    (27ae357fa82b: MMF_UNSTABLE, unmap of every reapable VMA); then
    ``set_bit(MMF_OOM_SKIP, &mm->flags)`` (212925802454).  No tracepoint
    (the reaping ones are in oom_reap_task_mm)."""
    if s.tpc != TP_EM_OOM or not _owner_ok(s):
        return NO
    mem, mmf = s.mem, s.mmf | MMF_SKIP
    if k.exit_mmap_self_reap:
        mmf |= MMF_UNSTABLE
        if mem in MEM_STILL_MAPPED:       # mmu_notifier_release ran first: nothing refuses
            mem = MEM_EXITED
    return [(s._replace(tpc=TP_EM_BARRIER, mem=mem, mmf=mmf), NO)]


def t_exit_mmap_barrier(k, sc, s, i):
    """mm/mmap.c:exit_mmap, OOM block: ``mmap_write_lock(mm);
    mmap_write_unlock(mm);`` (down_write/up_write before 5.8): waits for a
    reaper that took mmap_read_trylock before MMF_OOM_SKIP was set; any
    later attempt sees MMF_OOM_SKIP under the read lock and leaves the mm
    alone, so unmap_vmas/free_pgtables then run without a lock
    (212925802454; 4.19 and 5.15 mm/mmap.c:exit_mmap)."""
    if s.tpc != TP_EM_BARRIER or not _owner_ok(s):
        return NO
    if s.lockf or _reader_holds(s):
        return NO
    return [(s._replace(tpc=TP_EM_UNMAP), NO)]


# --- process_mrelease() (v5.15+): a second reaper driven from userspace -------

def t_user_sigkill(k, sc, s, i):
    """A userspace killer (lmkd, systemd-oomd style) sends V SIGKILL with
    pidfd_send_signal()/kill(): SIGNAL_GROUP_EXIT without mark_oom_victim,
    so V is not an OOM victim (no signal->oom_mm, no MMF_OOM_VICTIM, no
    TIF_MEMDIE, nothing queued for the oom_reaper).  ``process-mrelease``
    only; not fair (it may kill or not)."""
    if not sc.mrelease or s.killed or s.mrpc != MR_IDLE:
        return NO
    return [(s._replace(killed=1), NO)]


def t_process_mrelease(k, sc, s, i):
    """mm/oom_kill.c:process_mrelease (v5.15+; linux-source-6.1), up to the
    lock, called once V has SIGKILL pending: p = find_lock_task_mm(task)
    (none: -ESRCH); mm = p->mm; mmgrab(mm); task_will_free_mem(p) decides
    to reap (otherwise 0 if MMF_OOM_SKIP is set, else -EINVAL, and mmdrop);
    task_unlock(p).  No tracepoint."""
    if not sc.mrelease or s.mrpc != MR_IDLE or not s.killed:
        return NO
    if find_lock_task_mm(s) < 0:
        return [(s._replace(mrpc=MR_DONE), NO)]                 # -ESRCH
    if not (k.task_will_free_mem(k, s) and sharers_will_free_mem(k, sc, s)):
        return [(s._replace(mrpc=MR_DONE), DEREF)]              # mmgrab ... mmdrop
    if k.reaper_delay_robust_only and s.robust:                 # patch: "!reap || delay_reap"
        return [(s._replace(mrpc=MR_DONE), DEREF)]
    return [(s._replace(mrpc=MR_GOT_MM, mm_count=s.mm_count + 1), DEREF)]


def t_mrelease_lock(k, sc, s, i):
    """process_mrelease: mmap_read_lock_killable(mm) (waits while a writer
    holds it: the scenario's lock holder; exit_mmap's write-locked parts are
    single steps that wait for readers).  In the 6.1 tree MMF_OOM_SKIP is
    tested again under the lock "to ensure possible change in exit_mmap is
    seen" (``Kernel.mrelease_skip_check``): set -> unlock, mmdrop, return 0.
    An -EINTR from a fatal signal to the caller is not modelled."""
    if s.mrpc != MR_GOT_MM or s.lockf:
        return NO
    if k.mrelease_skip_check and s.mmf & MMF_SKIP:
        return [(_mmdrop(s._replace(mrpc=MR_DONE)), DEREF)]
    return [(s._replace(mrpc=MR_LOCKED), DEREF)]


def t_mrelease_reap(k, sc, s, i):
    """process_mrelease: __oom_reap_task_mm(mm) under the read lock
    (MMF_UNSTABLE; walks mm->mmap (v5.15) / the maple tree (v6.1+) and
    unmaps every reapable VMA); mmap_read_unlock; mmdrop(mm).  Walking a
    VMA list that exit_mmap freed without the lock and left in mm->mmap is
    the use-after-free fixed by f798a1d4f94d ("mm: fix use-after-free bug
    when mm->mmap is reused after being freed": exit_mmap resets it under
    mmap_write_lock).  With ``mmu-notifier`` the reap may be partial
    ("!__oom_reap_task_mm(mm)": -EAGAIN to the caller; linux-source-6.1).
    No tracepoint."""
    if s.mrpc != MR_LOCKED:
        return NO
    mem = MEM_REAPED if (s.vmas == VMAS_INTACT and s.mem in MEM_STILL_MAPPED) else s.mem
    s2 = _mmdrop(s._replace(mrpc=MR_DONE, mem=mem, mmf=s.mmf | MMF_UNSTABLE))
    out = [(s2, frozenset({"deref_mm", "walk_vmas"}))]
    if s.vmas == VMAS_INTACT and notifier_may_refuse(k, sc, s):   # -EAGAIN to the caller
        s3 = _mmdrop(s._replace(mrpc=MR_DONE, mem=MEM_PARTLY, mmf=s.mmf | MMF_UNSTABLE))
        out.append((s3, frozenset({"deref_mm", "walk_vmas"})))
    return out


# --- an mm shared with another process (mm-sharer) ---------------------------

def t_sharer_exit(k, sc, s, i):
    """The process S sharing V's mm dies: __oom_kill_process sent SIGKILL to
    every user process sharing the victim's mm ("Kill all user processes
    sharing victim->mm in other thread groups", 4.19/6.1
    mm/oom_kill.c:__oom_kill_process) without mark_oom_victim; its do_exit
    -> exit_mm -> mmput drops its mm_users reference, and if that was the
    last one S runs __mmput and exit_mmap (current is not an OOM victim).
    ``mm-sharer`` only; S's own exit steps are one step here.  A userspace
    kill of V (process-mrelease) does not reach S."""
    if not sc.mm_sharer or not s.shm or not sharer_killed(s):
        return NO
    s2, last = _mmput_users(k, s._replace(shm=0))
    if last:
        s2 = s2._replace(town=SHARER, tpc=TP_AIO)
    return [(s2, NO)]


def sharer_killed(s) -> bool:
    """S got SIGKILL: __oom_kill_process kills the processes sharing the
    victim's mm together with the victim, so S is dying once V was OOM-killed
    (mark_oom_victim ran: signal->oom_mm, or a thread had TIF_MEMDIE), not
    after a userspace kill of V alone."""
    return bool(s.oom_mm or any(t[2] for t in s.th))


def sharers_will_free_mem(k, sc, s) -> bool:
    """The loop of mm/oom_kill.c:task_will_free_mem (6.1 tree; from v4.7,
    ``Kernel.twfm_sharer_loop``): for_each_process sharing the mm outside
    the thread group, __task_will_free_mem(p) must hold (SIGNAL_GROUP_EXIT
    or PF_EXITING), else the mm is not "going to be freed": a live sharer
    keeps out_of_memory's task_will_free_mem(current) shortcut and
    process_mrelease() (-EINVAL, no reap) from treating it as dying.  The
    sharer is S (mm-sharer) or global init (init-sharer), which never dies."""
    if sc is None or not s.shm or not k.twfm_sharer_loop:
        return True
    if sc.init_sharer:
        return False            # global init is never killed
    return not (sc.mm_sharer and not sharer_killed(s))


# --- robust futex ------------------------------------------------------------

def t_exit_robust_list(k, sc, s, i):
    """kernel/futex/core.c:exit_robust_list, at the start of exit_mm:
    exit_mm -> exit_mm_release -> futex_exit_release -> futex_cleanup ->
    exit_robust_list; tsk->robust_list = NULL (6.1, 6.12, 6.18
    kernel/exit.c:exit_mm, kernel/fork.c:exit_mm_release; before the
    split, 4.9 kernel/exit.c:exit_mm -> kernel/fork.c:mm_release).  The
    thread is past exit_signals (PF_EXITING) and still has ->mm; the walk
    reads the list head, futex_offset, list_op_pending and each entry with
    get_user() on its own mm and, per futex it owns, handle_futex_death
    sets FUTEX_OWNER_DIED and wakes a waiter.  On memory the oom_reaper
    already unmapped, the fault fails (6.18 include/linux/oom.h:
    check_stable_address_space, VM_FAULT_SIGBUS on an MMF_UNSTABLE mm) and
    the walk "silently returns on any sign of list-walking problem": the
    waiters are never woken.  That is why e4a38402c36e (v5.18) delays the
    reaper.  One step (futex_cleanup_begin/_end and the
    PI-state list are folded in); scenario robust-futex."""
    if s.th[i][0] != EXITING or not s.robust >> i & 1:
        return NO
    return [(s._replace(robust=s.robust & ~(1 << i)), NO)]


def reaper_delayed(k, s, i=None) -> bool:
    """queue_oom_reaper arms the oom_reaper timer with OOM_REAPER_DELAY:
    always (v5.18+, e4a38402c36e), or with the 2025 proposal only while a
    thread of the victim still has a robust list
    (``process_has_robust_futex``; ``Kernel.reaper_delay_robust_only``).
    W (oom-group, ``i == W_TASK``) has no robust list in the model."""
    if not k.reaper_delay_robust_only:
        return True
    return bool(s.robust) and i != W_TASK


def queue_undelayed(k, s, i, tags):
    """queue_oom_reaper(tsk, delay=false) of the 2025 proposal: the timer
    expires at once (``jiffies + 0``); the callback's push on
    oom_reaper_list and wake-up are folded into the queueing step."""
    tags.add(f"obs:wake:{task_label(i)}")
    return s._replace(rrefs=s.rrefs + 1, rlist=(i,) + s.rlist)


@functools.lru_cache(maxsize=None)
def _delay_nonzero(expr: str) -> bool:
    return timing.jiffies(None, expr) != 0


def walk_pending_within_delay(k, sc, s) -> bool:
    """Timing assumption ``walk-within-delay``: a delayed oom_reaper timer
    (a non-zero ``Kernel.reaper_delay``) does not expire while a killed
    victim thread that is not stuck has yet to finish its robust-list walk:
    it is in do_exit before exit_robust_list, or on its way there and not
    held by the freezer (a thawed thread leaving the refrigerator counts).
    A thread the freezer keeps (PM or a frozen cgroup, where the version
    does not exempt it) or one in D state is not covered: nothing bounds
    how long it waits."""
    if not sc.walk_within_delay or not s.robust or not s.killed:
        return False
    if not _delay_nonzero(k.reaper_delay):
        return False
    for j, (pc, _, _) in enumerate(s.th):
        if s.robust >> j & 1 and (pc == EXITING or pc in (RUN, FROZEN)
                                  and not freezing(k, sc, s, j)):
            return True
    return False


def walk_within_delay_condition(k):
    """What ``walk-within-delay`` assumes, in the delays of :mod:`timing`:
    the steps a killed thread that is not stuck takes from the kill to the
    end of its walk (``do_exit``: SIGKILL delivery, then
    ``exit_robust_list``) end before the oom_reaper timer of version ``k``
    can expire (OOM_REAPER_DELAY/HZ, at the earliest on time: no slack).
    A sympy relation; ``false`` where the reaper is not delayed (before
    v5.18: ``Kernel.reaper_delay`` is 0)."""
    import sympy as sp
    walk = sum((BY_KEY[key].delay.expr(k) for key in ("do_exit", "exit_robust_list")),
               sp.Integer(0))
    timer = BY_KEY["wake_oom_reaper_timer"].delay.expr(k) - timing.t_slack
    return sp.Lt(walk, timer)


# --- init sharing the mm --------------------------------------------------------

def init_pins_mm(k, s):
    """__oom_kill_process, the loop over processes sharing the victim's mm
    (v4.8 oom_kill_process, 4.9 and 6.12 __oom_kill_process): for global
    init ``can_oom_reap = false; set_bit(MMF_OOM_SKIP, &mm->flags)``
    (v4.8: MMF_OOM_REAPED, with kthreads too, "hide mm which is shared
    with kthread or global init"; 6.18 mm_flags_set) and pr_info("oom
    killer %d (%s) has mm pinned by %d (%s)") (``events.MM_PINNED``, a
    context line, not part of the kill observation); init gets no SIGKILL
    and the reaper is not queued.  In v4.5 init is only skipped
    (``Kernel.init_sharer``).  Scenario init-sharer."""
    return s._replace(mmf=s.mmf | MMF_SKIP)


# --- memcg OOM path (memcg-oom, oom-group) -------------------------------------

def group_kill(k, sc) -> bool:
    """memory.oom.group is set (``oom-group``) and the version has it
    (3d8b38eb81ca, v4.19: mm/memcontrol.c:mem_cgroup_get_oom_group)."""
    return bool(sc.oom_group and k.memcg_oom_group)


def a_dying(sc, s) -> bool:
    """mm/memcontrol.c:task_is_dying() (should_force_charge() before 5.16)
    of the charger A, W's thread: W was sent SIGKILL (fatal_signal_pending;
    tsk_is_oom_victim and PF_EXITING come with it here)."""
    return bool(sc.memcg_oom and s.w_killed)


def _mark_w(k, s):
    """mark_oom_victim(W): test_and_set TIF_MEMDIE on W's thread; cmpxchg
    W's signal->oom_mm (its mmgrab is not tracked: W's mm_struct lives as
    long as the model needs it); oom_victims++ (per thread or per group:
    W is one thread)."""
    if s.w_memdie:
        return s
    return s._replace(w_memdie=1, w_oom_mm=1, oom_victims=s.oom_victims + 1)


def _kill_w(k, s, tags):
    """__oom_kill_process(W): find_lock_task_mm(W) (none once W has exited:
    "already exiting. Skip killing the task"); SIGKILL; mark_oom_victim;
    "Killed process" (only the first kill is observed); queue_oom_reaper /
    wake_oom_reaper(W)."""
    if s.w_exited:
        return s
    if not s.w_killed:
        tags.add("kill_W")
    s = _mark_w(k, s._replace(w_killed=1))
    if not k.oom_group_queues_members:
        return s
    return wake_oom_reaper(k, s, W_TASK, tags)


def memcg_oom_kill(k, sc, s, current, tags):
    """mm/oom_kill.c:out_of_memory for a memcg OOM (called under oom_lock by
    mem_cgroup_out_of_memory).  Without memory.oom.group it is the model's
    out_of_memory: ``oom_killer_disabled`` is tested for memcg OOMs too;
    what is_memcg_oom(oc) changes (no notifier chain, no panic_on_oom=1,
    no oom_kill_allocating_task, no panic when nothing is killable, the
    "Memory cgroup out of memory" prefix, mem_cgroup_scan_tasks instead of
    for_each_process) changes nothing here, V and W being the memcg's tasks.
    With memory.oom.group: oom_kill_process(victim) kills the victim, then
    mem_cgroup_scan_tasks(oom_group, oom_kill_memcg_member) runs
    __oom_kill_process on every task of the group (v4.19, 6.12
    mm/oom_kill.c): V's threads again (TIF_MEMDIE set, queueing refused:
    only the printk repeats, not modelled) and W.  ``current`` is A (None):
    task_will_free_mem(current) applies to a dying A, whose mm is W's."""
    if not group_kill(k, sc):
        return out_of_memory(k, s, current, tags, sc)
    if s.disabled:
        return s
    if current is None and s.w_killed and not s.w_exited and not s.w_mmf & MMF_SKIP:
        s2 = _mark_w(k, s)                 # task_will_free_mem(current): mark A, queue W's mm
        return wake_oom_reaper(k, s2, W_TASK, tags)
    sel = select_bad_process(k, s, tags)     # W's abort: Kernel.oom_abort (abort_oom_mm)
    if sel == "V":
        s = kill_victim(k, s, tags, sc)
        return _kill_w(k, s, tags)
    if sel == "W":
        s = _kill_w(k, s, tags)
        return kill_victim(k, s, tags, sc) if find_lock_task_mm(s) >= 0 else s
    return s


def t_mem_cgroup_oom(k, sc, s, i):
    """mm/memcontrol.c:try_charge_memcg -> mem_cgroup_oom ->
    mem_cgroup_out_of_memory by the charger A (``memcg-oom``), up to the
    oom_lock wait: mutex_lock(&oom_lock) (4.19 tree) or
    mutex_lock_killable(&oom_lock) (7775face2079, v5.1; 6.12): A sleeps in
    the mutex's wait queue until the lock is handed to it, where the page
    allocator's __alloc_pages_may_oom only tries (mutex_trylock) and backs
    off.  A dying A does not start a charge that reaches here
    (should_force_charge() ``goto force`` before v5.16, then
    ``passed_oom && task_is_dying()``, a4ebf1b6ca1e); reclaim, the retries, the
    memory.oom.group lookup and the margin re-check under the lock
    (mem_cgroup_margin) are not modelled, like the allocator's
    get_page_from_freelist re-check.  A version whose memcg path only
    tries (``memcg_oom_lock="trylock"``) takes the lock here or not at all."""
    if s.apc != A_IDLE or not sc.memcg_oom or not _a_wants(sc, s):
        return NO
    if k.memcg_oom_lock == "trylock":
        if s.oom_lock != L_FREE:
            return NO
        return [(s._replace(apc=A_HOLDS, oom_lock=L_A), NO)]
    return [(s._replace(apc=A_WAITS), NO)]


def t_memcg_oom_lock(k, sc, s, i):
    """mutex_lock / mutex_lock_killable(&oom_lock) in
    mem_cgroup_out_of_memory returns 0: the lock is handed to the waiting
    charger A.  A queued waiter is strongly fair (it is woken when the lock
    is released; mutex handoff keeps it from starving), also under the
    weak-oom_lock fairness mode that lets a trylock lose forever."""
    if s.apc != A_WAITS or s.oom_lock != L_FREE:
        return NO
    return [(s._replace(apc=A_HOLDS, oom_lock=L_A), NO)]


def t_memcg_oom_lock_killed(k, sc, s, i):
    """mutex_lock_killable(&oom_lock) returns -EINTR: a fatal signal reached
    the waiting charger A (W was killed, e.g. by a memory.oom.group kill
    while A waited) and mem_cgroup_out_of_memory returns true without the
    OOM killer (7775face2079, v5.1; 6.12 mm/memcontrol.c).  A plain
    mutex_lock (4.19) keeps waiting."""
    if s.apc != A_WAITS or k.memcg_oom_lock != "killable" or not a_dying(sc, s):
        return NO
    return [(s._replace(apc=A_IDLE), NO)]


def t_memcg_out_of_memory(k, sc, s, i):
    """mem_cgroup_out_of_memory under oom_lock by A: ``ret =
    task_is_dying() || out_of_memory(&oc)`` (7775face2079 v5.1 .. 6.12;
    ``Kernel.memcg_dying_bail``) -- a dying charger returns without the OOM
    killer; 4.19 and 6.18.y call out_of_memory(&oc) whatever the charger's
    state -- then mutex_unlock(&oom_lock)."""
    if s.apc != A_HOLDS or not sc.memcg_oom:
        return NO
    tags = set()
    if a_dying(sc, s):
        if k.memcg_dying_bail:
            return [(s._replace(apc=A_IDLE, oom_lock=L_FREE), NO)]
        tags.add("dying_oom")
    s2 = memcg_oom_kill(k, sc, s, None, tags)
    return [(s2._replace(apc=A_IDLE, oom_lock=L_FREE), frozenset(tags))]


def t_thread_mem_cgroup_oom(k, sc, s, i):
    """A thread of V that is not yet killed hits the memcg limit and runs
    mem_cgroup_out_of_memory itself (``memcg-oom``): oom_lock is taken,
    out_of_memory selects V (the memory hog: itself) and kills it, with
    the group under memory.oom.group, and the lock is released, all in one
    step; A may be waiting for the lock meanwhile (the race of
    7775face2079: the kill makes the waiting A a dying charger).  Not fair:
    the thread may or may not charge."""
    if s.th[i][0] != RUN or not sc.memcg_oom or s.killed or s.oom_lock != L_FREE \
            or freezing(k, sc, s, i):
        return NO
    tags = set()
    s2 = memcg_oom_kill(k, sc, s, i, tags)
    if s2 == s:
        return NO
    return [(s2, frozenset(tags))]


def t_w_exit(k, sc, s, i):
    """W (killed by the group kill) dies: get_signal -> do_exit -> exit_mm ->
    mmput -> __mmput -> exit_mmap (W's memory is unmapped; MMF_OOM_SKIP set
    as for V: the OOM block v4.14-v6.0, for every mm from v6.1) ->
    exit_oom_victim (TIF_MEMDIE cleared, oom_victims--), as one step, once
    its thread A is out of the charge path.  exit_mmap's mmap_write_lock
    (or the v4.14-v6.0 write-lock barrier) waits for a reaper holding W's
    mmap_read_lock, so the step waits too.  Not fair: W may sit in an
    uninterruptible sleep and never get to do_exit, the case the reaper is
    for (as with V's dstate-thread), so nothing may rely on W's exit."""
    if not s.w_killed or s.w_exited or s.apc != A_IDLE or not group_kill(k, sc):
        return NO
    if s.rpc == R_UNMAP and s.rtask == W_TASK:
        return NO
    mem = MEM_EXITED if s.w_mem == MEM_MAPPED else s.w_mem
    sets_skip = k.exit_mmap_sets_skip or k.mmput_sets_skip or (k.exit_mmap_oom_barrier
                                                               and s.w_oom_mm)
    mmf = s.w_mmf | MMF_SKIP if sets_skip else s.w_mmf
    s2 = s._replace(w_exited=1, w_mem=mem, w_mmf=mmf)
    if s.w_memdie:
        s2 = s2._replace(w_memdie=0, oom_victims=s2.oom_victims - 1)
    return [(s2, NO)]


def t_w_reap_attempt(k, sc, s, i):
    """oom_reap_task_mm on W's mm (oom-group, v4.19+ code): mmap_read_trylock
    (nobody else holds W's mmap_lock across steps: it succeeds);
    MMF_OOM_SKIP under the lock -> nothing to do."""
    if s.rpc != R_ATTEMPT or s.rtask != W_TASK:
        return NO
    att = s.ratt + 1
    if k.reaper_skip_check and s.w_mmf & MMF_SKIP:
        return [(s._replace(rpc=R_DONE, ratt=att), frozenset({"obs:reap_skip:W"}))]
    return [(s._replace(rpc=R_UNMAP, ratt=att), frozenset({"obs:reap_start:W"}))]


def t_w_reap_unmap(k, sc, s, i):
    """__oom_reap_task_mm on W's mm: MMF_UNSTABLE, unmap every reapable VMA
    (W's memory, unless its exit already unmapped it), mmap_read_unlock."""
    if s.rpc != R_UNMAP or s.rtask != W_TASK:
        return NO
    mem = MEM_REAPED if s.w_mem == MEM_MAPPED else s.w_mem
    return [(s._replace(rpc=R_DONE, w_mem=mem, w_mmf=s.w_mmf | MMF_UNSTABLE),
             frozenset({"obs:reap_finish:W"}))]


def t_w_oom_reap_task_done(k, sc, s, i):
    """oom_reap_task tail for W: tsk->oom_reaper_list = NULL;
    set_bit(MMF_OOM_SKIP) on W's mm (W's trylock never fails, so every
    version's ``done:`` sets it); put_task_struct."""
    if s.rpc != R_DONE or s.rtask != W_TASK:
        return NO
    return [(s._replace(w_mmf=s.w_mmf | MMF_SKIP, rpc=R_IDLE, rtask=-1, ratt=0, rnext=0,
                        rrefs=s.rrefs - 1), NO)]


# --- pinned and partly reaped memory (odirect, mmu-notifier) -----------------

def notifier_may_refuse(k, sc, s) -> bool:
    """``mmu-notifier``: can the non-blocking invalidation of the notifier's
    VMA fail now?  Only in a reaper with the non-blocking path (v4.19+,
    93065ac753e4; ``Kernel.reaper_mmu_notifier``) and only while the
    notifier is registered: exit_mmap starts with mmu_notifier_release(mm),
    which calls ->release and unhooks every notifier of the mm's list
    (mm/mmu_notifier.c:mn_hlist_release; 4.9, 4.19 and 6.18 mm/mmap.c:exit_mmap
    call it first), so exit_mmap's own __oom_reap_task_mm (v4.19-v6.0: "the
    above call to mmu_notifier_release(mm) ensures mmu notifier callbacks in
    __oom_reap_task_mm() will not block", 4.19 mm/mmap.c:exit_mmap) and any
    later attempt find nothing to refuse."""
    return (sc.mmu_notifier and k.reaper_mmu_notifier == "nonblock"
            and s.tpc in (TP_NONE, TP_AIO))


def reap_partly(k, sc, s):
    """The failed outcome of ``reap_unmap`` (``s`` is its pre-state):
    __oom_reap_task_mm sets MMF_UNSTABLE, walks every VMA, and for the VMA
    whose mmu_notifier_invalidate_range_start_nonblock() returns -EAGAIN
    calls tlb_finish_mmu, sets ret = false and continues: the other VMAs are
    unmapped (``mem`` = reaped partly), that one stays mapped.
    oom_reap_task_mm then skips the "oom_reaper: reaped process" line (goto
    out_finish), emits finish_task_reaping, mmap_read_unlock, returns false,
    and oom_reap_task sleeps HZ/10 and retries; after MAX_OOM_REAP_RETRIES
    failures "unable to reap" and MMF_OOM_SKIP (4.19 tree and 6.18
    mm/oom_kill.c:__oom_reap_task_mm, oom_reap_task_mm, oom_reap_task).
    Whether the notifier refuses depends on the driver (a contended lock,
    or any non-blockable range): each attempt may fail or succeed."""
    if not notifier_may_refuse(k, sc, s) or s.vmas != VMAS_INTACT:
        return []
    mmf = s.mmf | MMF_UNSTABLE if k.reaper_sets_unstable else s.mmf
    s2 = s._replace(mem=MEM_PARTLY if s.mem in MEM_STILL_MAPPED else s.mem, mmf=mmf,
                    rpc=R_SLEEP)
    return [(s2, frozenset({"deref_mm", "walk_vmas", "obs:reap_partial"}))]


def t_dio_complete(k, sc, s, i):
    """block/bio.c: the direct IO in flight on V's anonymous memory
    (``odirect``) completes: bio_endio -> the dio end_io ->
    bio_release_pages -> __bio_release_pages drops the block layer's hold
    on each page (folio_put_refs of the iov_iter_get_pages2 reference in the
    6.1 tree; unpin_user_folio of the FOLL_PIN pin taken by
    iov_iter_extract_pages, BIO_PAGE_PINNED, in 6.12 and 6.18).  Pages that
    the reaper or exit_mmap already unmapped are freed now (neither
    __oom_reap_task_mm nor the zap path zap_present_folio_ptes looks at
    pins: it clears the PTE, decrements MM_ANONPAGES and drops the
    mapping's reference only; 6.18 mm/memory.c, mm/oom_kill.c); pages still
    mapped stay with the mm.  A step of the device (the ``IO`` actor); not
    fair: the IO may never complete."""
    if not s.pin:
        return NO
    return [(s._replace(pin=0), NO)]


# ------------------------------------------------------------ registry

def _T(key, name, actor, kind, fair, fire, cite, lock=None, per="none", versions="all"):
    return Transition(key=key, name=name, actor=actor, kind=kind, fair=fair, fire=fire, cite=cite,
                      lock=lock, per=per, versions=versions, delay=DELAY.get(key, timing.CPU))


#: what decides each step's duration (every other transition: a short CPU step)
DELAY = {
    "alloc_may_oom": timing.ALLOC_RETRY,            # trylock fails -> sleep 1 jiffy, retry
    "victim_out_of_memory": timing.VICTIM_ALLOCATES,
    "do_exit": timing.SIGKILL_DELIVERY,
    "exit_mm": timing.MMAP_LOCK_HOLD,               # mmap_read_lock waits for a writer
    "dstate_io_done": timing.DSTATE_IO,
    "aio_complete": timing.AIO_IO,
    "exit_mmap_unmap": timing.EXIT_UNMAP,
    "lock_release": timing.MMAP_LOCK_HOLD,
    "reap_attempt": timing.REAP_ATTEMPT,
    "reap_unmap": timing.REAP_UNMAP,
    "reap_sleep": timing.REAP_RETRY_SLEEP,
    "wake_oom_reaper_timer": timing.OOM_REAPER_DELAY_TIMER,
    "freeze_processes": timing.SUSPEND_START,
    "freeze_timeout": timing.FREEZE_TIMEOUT,
    "oom_killer_disable_timeout": timing.FREEZE_TIMEOUT,
    "thaw_processes": timing.SUSPENDED,
    "exit_mmap_oom": timing.EXIT_UNMAP,             # v4.19+: the self-reap unmaps the RSS
    "exit_mmap_barrier": timing.MMAP_LOCK_HOLD,     # waits for the reaper's read lock
    "user_sigkill": Delay("env", "a userspace killer sends SIGKILL", "user_kill"),
    "mrelease_lock": timing.MMAP_LOCK_HOLD,
    "mrelease_reap": timing.REAP_UNMAP,
    "sharer_exit": timing.CPU,
    # --- robust futex
    "exit_robust_list": timing.CPU,                  # a few get_user() on the victim's memory
    # --- memcg OOM path
    "mem_cgroup_oom": timing.CPU,                   # the charge gets to the OOM path
    "memcg_oom_lock": timing.CPU,                   # oom_lock held by another out_of_memory
    "memcg_oom_lock_killed": timing.SIGKILL_DELIVERY,  # the fatal signal wakes the waiter
    "memcg_out_of_memory": timing.CPU,
    "thread_mem_cgroup_oom": timing.VICTIM_ALLOCATES,  # a thread of V charges
    "w_exit": timing.EXIT_UNMAP,                    # W's exit_mmap unmaps its RSS
    "w_reap_attempt": timing.REAP_ATTEMPT,
    "w_reap_unmap": timing.REAP_UNMAP,
    "w_oom_reap_task": timing.CPU,
    # --- pinned and partly reaped memory
    "dio_complete": Delay("io", "in-flight direct IO completes (bio_release_pages)", "aio_io"),
}


TRANSITIONS: tuple[Transition, ...] = (
    _T("alloc_may_oom", "__alloc_pages_may_oom", "A", "lock", "strong", t_alloc_may_oom,
       "mm/page_alloc.c:__alloc_pages_may_oom (v4.5 .. 6.18; 6.12)", lock="oom_lock"),
    _T("out_of_memory", "out_of_memory", "A", "cpu", "weak", t_a_out_of_memory,
       "mm/oom_kill.c:out_of_memory/select_bad_process/oom_kill_process (v4.5, v4.8, v4.9; "
       "6.12 and 6.18 __oom_kill_process)"),
    _T("victim_out_of_memory", "out_of_memory", "thread", "cpu", "none", t_victim_out_of_memory,
       "mm/oom_kill.c:out_of_memory task_will_free_mem(current) shortcut (v4.7+; "
       "MMF_OOM_REAP_QUEUED from v5.0; 6.12)", per="thread"),
    _T("try_to_freeze", "try_to_freeze", "thread", "cpu", "weak", t_try_to_freeze,
       "kernel/freezer.c:__refrigerator, freezing_slow_path (v4.5 current's TIF_MEMDIE; v4.8 .. "
       "6.12 the task's TIF_MEMDIE; 6.18 tsk_is_oom_victim, 59d4d36158ba)", per="thread"),
    _T("refrigerator_exit", "__refrigerator", "thread", "cpu", "weak", t_refrigerator_exit,
       "kernel/freezer.c:__refrigerator (v4.5 .. 6.18; 6.12)", per="thread"),
    _T("do_exit", "do_exit", "thread", "cpu", "weak", t_do_exit,
       "kernel/signal.c:get_signal -> kernel/exit.c:do_exit/exit_signals (v4.5 .. 6.18; 6.12)",
       per="thread"),
    _T("exit_mm", "exit_mm", "thread", "lock", "strong", t_exit_mm,
       "kernel/exit.c:exit_mm (v4.5 .. 6.18; 6.12)", lock="mmap_lock", per="thread"),
    _T("mmput", "mmput", "thread", "cpu", "weak", t_mmput,
       "kernel/fork.c:mmput (v4.5 .. 6.18; 6.12)", per="thread"),
    _T("exit_oom_victim", "exit_oom_victim", "thread", "cpu", "weak", t_exit_oom_victim,
       "mm/oom_kill.c:exit_oom_victim from kernel/exit.c:exit_mm (v4.5 .. 6.18; 6.12)",
       per="thread"),
    _T("exit_files", "exit_files", "thread", "cpu", "weak", t_exit_files,
       "kernel/exit.c:do_exit -> exit_files, fs/file.c:close_files -> filp_close (->flush) "
       "(v4.5 .. 6.18; 6.12)", per="thread"),
    _T("do_exit_tail", "exit_task_work", "thread", "cpu", "weak", t_do_exit_tail,
       "kernel/exit.c:do_exit -> exit_task_work (__fput -> ->release), exit_notify, "
       "do_task_dead; kernel/sched/core.c:finish_task_switch (v4.5 .. 6.18; 6.12)",
       per="thread"),
    _T("release_task", "release_task", "thread", "cpu", "weak", t_release_task,
       "kernel/exit.c:release_task (v4.5 .. 6.18; 6.12)", per="thread"),
    _T("dstate_io_done", "io_schedule", "IO", "io", "none", t_dstate_io_done,
       "scenario dstate-thread (the device completes the IO; kernel/sched/core.c:io_schedule "
       "returns)", per="thread"),
    _T("exit_aio", "exit_aio", "owner", "io", "weak", t_exit_aio,
       "kernel/fork.c:__mmput -> fs/aio.c:exit_aio (v4.5 .. 6.18; 6.12)"),
    _T("exit_mmap_unmap", "exit_mmap", "owner", "lock", "strong", t_exit_mmap_unmap,
       "mm/mmap.c:exit_mmap unmap_vmas (v4.5 .. v4.13 without a lock; bf3980c85212 v6.1 "
       "mmap_read_lock; 6.12)", lock="mmap_lock"),
    _T("exit_mmap_skip", "exit_mmap", "owner", "cpu", "weak", t_exit_mmap_skip,
       "mm/mmap.c:exit_mmap set_bit(MMF_OOM_SKIP) (bf3980c85212, v6.1; 6.12)"),
    _T("exit_mmap_free", "__mmput", "owner", "lock", "strong", t_exit_mmap_free,
       "mm/mmap.c:exit_mmap free_pgtables/remove_vma; kernel/fork.c:__mmput tail (v4.9 "
       "MMF_OOM_SKIP in __mmput; v6.1 mmap_write_lock; 6.12)", lock="mmap_lock"),
    _T("free_signal_struct", "free_signal_struct", "rcu", "cpu", "weak", t_free_signal_struct,
       "kernel/fork.c:free_signal_struct (26db62f179d1, v4.9; 6.12)"),
    _T("aio_complete", "aio_complete", "IO", "io", "none", t_aio_complete,
       "fs/aio.c:aio_complete (scenario aio-blocked)"),
    _T("lock_release", "mmap_write_unlock", "lock_holder", "lock", "none", t_lock_release,
       "scenario mmap-lock-forever"),
    _T("oom_reaper", "oom_reaper", "oom_reaper", "cpu", "weak", t_oom_reaper_pop,
       "mm/oom_kill.c:oom_reaper (aac453635549 v4.6; set_freezable e26796066fdf v4.8, dropped "
       "7d2e7a22cf27 v4.9; 6.12 set_freezable)"),
    _T("reap_attempt", "oom_reap_task_mm", "oom_reaper", "lock", "weak", t_reap_attempt,
       "mm/oom_kill.c:__oom_reap_task (v4.8) / __oom_reap_task_mm (v4.9) / oom_reap_task_mm "
       "(212925802454 v4.14; 6.12)"),
    _T("reap_unmap", "__oom_reap_task_mm", "oom_reaper", "cpu", "weak", t_reap_unmap,
       "mm/oom_kill.c:__oom_reap_task (v4.8) / __oom_reap_task_mm (v4.9, 6.12); a VMA whose "
       "MMU notifier refuses is skipped and the attempt fails (93065ac753e4, v4.19; 6.18)"),
    _T("reap_sleep", "schedule_timeout_idle", "oom_reaper", "sleep", "weak", t_reap_sleep,
       "mm/oom_kill.c:oom_reap_task retry loop, MAX_OOM_REAP_RETRIES (v4.8 .. 6.18; 6.12)"),
    _T("oom_reap_task", "oom_reap_task", "oom_reaper", "cpu", "weak", t_oom_reap_task_done,
       "mm/oom_kill.c:oom_reap_task (v4.8 two-strike and remote exit_oom_victim 449d777d7ad6; "
       "v4.9 done: MMF_OOM_SKIP; 6.12)"),
    _T("wake_oom_reaper_timer", "wake_oom_reaper", "timer", "timer", "weak", t_wake_oom_reaper_timer,
       "mm/oom_kill.c:wake_oom_reaper timer callback (e4a38402c36e, v5.18; 6.12)", per="timer"),
    _T("freeze_processes", "freeze_processes", "pm", "cpu", "none", t_pm_start,
       "kernel/power/process.c:freeze_processes (v4.5 .. 6.18; 6.12)"),
    _T("try_to_freeze_tasks", "try_to_freeze_tasks", "pm", "cpu", "weak", t_try_to_freeze_tasks,
       "kernel/power/process.c:try_to_freeze_tasks, freeze_processes second pass "
       "(74070542099c, v4.7/v4.8; removed by 7d2e7a22cf27, v4.9; 6.12)"),
    _T("freeze_timeout", "try_to_freeze_tasks=-EBUSY", "pm", "timer", "weak", t_freeze_timeout,
       "kernel/power/process.c:try_to_freeze_tasks timeout, freeze_timeout_msecs (v4.5 .. 6.18; "
       "6.12)"),
    _T("oom_killer_disable", "oom_killer_disable", "pm", "lock", "strong", t_oom_killer_disable_lock,
       "mm/oom_kill.c:oom_killer_disable (v4.5 .. 6.18; 6.12)", lock="oom_lock"),
    _T("oom_killer_disable_return", "oom_killer_disable=true", "pm", "cpu", "weak",
       t_oom_killer_disable_return, "mm/oom_kill.c:oom_killer_disable wait_event (v4.5 .. 6.18; "
       "6.12)"),
    _T("oom_killer_disable_timeout", "oom_killer_disable=false", "pm", "timer", "weak",
       t_oom_killer_disable_timeout, "mm/oom_kill.c:oom_killer_disable timeout (7d2e7a22cf27, "
       "v4.9; 6.12)"),
    _T("thaw_processes", "thaw_processes", "pm", "cpu", "weak", t_thaw_processes,
       "kernel/power/process.c:thaw_processes -> oom_killer_enable (v4.5 .. 6.18; 6.12)"),
    _T("exit_mmap_oom", "exit_mmap", "owner", "cpu", "weak", t_exit_mmap_oom,
       "mm/mmap.c:exit_mmap OOM block: __oom_reap_task_mm (27ae357fa82b, v4.19), "
       "set_bit(MMF_OOM_SKIP) (212925802454, v4.14); 4.19 and 5.15 trees"),
    _T("exit_mmap_barrier", "exit_mmap", "owner", "lock", "strong", t_exit_mmap_barrier,
       "mm/mmap.c:exit_mmap OOM block: down_write/up_write(mmap_sem) (212925802454, v4.14); "
       "mmap_write_lock/unlock in 5.15", lock="mmap_lock"),
    _T("user_sigkill", "pidfd_send_signal", "mrelease", "cpu", "none", t_user_sigkill,
       "scenario process-mrelease: a userspace killer's SIGKILL (kernel/signal.c)"),
    _T("process_mrelease", "process_mrelease", "mrelease", "cpu", "weak", t_process_mrelease,
       "mm/oom_kill.c:process_mrelease (884a7e5964e0, v5.15; linux-source-6.1)"),
    _T("mrelease_lock", "mmap_read_lock_killable", "mrelease", "lock", "strong", t_mrelease_lock,
       "mm/oom_kill.c:process_mrelease mmap_read_lock_killable and the MMF_OOM_SKIP re-check "
       "(linux-source-6.1)", lock="mmap_lock"),
    _T("mrelease_reap", "__oom_reap_task_mm", "mrelease", "cpu", "weak", t_mrelease_reap,
       "mm/oom_kill.c:process_mrelease -> __oom_reap_task_mm (linux-source-6.1); the "
       "use-after-free fixed by f798a1d4f94d"),
    _T("sharer_exit", "do_exit", "S", "cpu", "weak", t_sharer_exit,
       "mm/oom_kill.c:__oom_kill_process sharer loop; kernel/exit.c:exit_mm, kernel/fork.c:mmput "
       "(scenario mm-sharer; 4837fe37adff)"),
    # --- robust futex
    _T("exit_robust_list", "exit_robust_list", "thread", "cpu", "weak", t_exit_robust_list,
       "kernel/futex/core.c:exit_robust_list via kernel/exit.c:exit_mm -> kernel/fork.c:"
       "exit_mm_release -> futex_exit_release -> futex_cleanup (6.1, 6.12, 6.18); 4.9 "
       "kernel/exit.c:exit_mm -> kernel/fork.c:mm_release (scenario robust-futex)",
       per="thread"),
    # --- memcg OOM path (memcg-oom, oom-group)
    _T("mem_cgroup_oom", "mem_cgroup_oom", "A", "cpu", "weak", t_mem_cgroup_oom,
       "mm/memcontrol.c:try_charge_memcg -> mem_cgroup_oom -> mem_cgroup_out_of_memory (4.19 "
       "mutex_lock; 7775face2079 v5.1 mutex_lock_killable; 6.1, 6.12, 6.18.y)"),
    _T("memcg_oom_lock", "mutex_lock_killable", "A", "lock", "strong", t_memcg_oom_lock,
       "mm/memcontrol.c:mem_cgroup_out_of_memory oom_lock wait (4.19 mutex_lock; "
       "7775face2079 v5.1 mutex_lock_killable; 6.12); kernel/locking/mutex.c handoff",
       lock="oom_lock"),
    _T("memcg_oom_lock_killed", "mutex_lock_killable=-EINTR", "A", "cpu", "weak",
       t_memcg_oom_lock_killed,
       "mm/memcontrol.c:mem_cgroup_out_of_memory: if (mutex_lock_killable(&oom_lock)) return "
       "true (7775face2079, v5.1; 6.1, 6.12, 6.18.y)"),
    _T("memcg_out_of_memory", "mem_cgroup_out_of_memory", "A", "cpu", "weak",
       t_memcg_out_of_memory,
       "mm/memcontrol.c:mem_cgroup_out_of_memory task_is_dying() || out_of_memory(&oc) "
       "(7775face2079 v5.1 .. 6.12; 4.19 and 6.18.y without the re-check); mm/oom_kill.c:"
       "out_of_memory, oom_kill_process, mem_cgroup_get_oom_group, oom_kill_memcg_member "
       "(3d8b38eb81ca, v4.19; 6.12)"),
    _T("thread_mem_cgroup_oom", "mem_cgroup_out_of_memory", "thread", "cpu", "none",
       t_thread_mem_cgroup_oom,
       "mm/memcontrol.c:mem_cgroup_out_of_memory by a thread of V (the race in the changelog of "
       "7775face2079); mm/oom_kill.c:out_of_memory (6.12)", per="thread"),
    _T("w_exit", "do_exit", "W", "cpu", "none", t_w_exit,
       "kernel/exit.c:do_exit/exit_mm, kernel/fork.c:__mmput, mm/mmap.c:exit_mmap, "
       "mm/oom_kill.c:exit_oom_victim for W (4.19, 6.12; scenario oom-group)"),
    _T("w_reap_attempt", "oom_reap_task_mm", "oom_reaper", "lock", "weak", t_w_reap_attempt,
       "mm/oom_kill.c:oom_reap_task_mm on W's mm (212925802454 v4.14; 4.19, 6.12)"),
    _T("w_reap_unmap", "__oom_reap_task_mm", "oom_reaper", "cpu", "weak", t_w_reap_unmap,
       "mm/oom_kill.c:__oom_reap_task_mm on W's mm (4.19, 6.12)"),
    _T("w_oom_reap_task", "oom_reap_task", "oom_reaper", "cpu", "weak", t_w_oom_reap_task_done,
       "mm/oom_kill.c:oom_reap_task done: for W (4.19, 6.12)"),
    # --- pinned and partly reaped memory
    _T("dio_complete", "bio_release_pages", "IO", "io", "none", t_dio_complete,
       "block/bio.c:__bio_release_pages (folio_put_refs in linux-source-6.1; unpin_user_folio "
       "of the BIO_PAGE_PINNED pin in linux-source-6.12 and 6.18) (scenario odirect)"),
)

BY_KEY = {t.key: t for t in TRANSITIONS}
#: transitions of W as a memory.oom.group victim (v4.19+)
MEMCG_GROUP_KEYS = frozenset({"w_exit", "w_reap_attempt", "w_reap_unmap", "w_oom_reap_task"})


def transitions_for(k) -> tuple[Transition, ...]:
    """The transitions a version uses (the reaper's only if it has one)."""
    out = []
    for t in TRANSITIONS:
        if t.actor == "oom_reaper" and not k.has_reaper:
            continue
        if t.key == "wake_oom_reaper_timer" and k.queue != "timer":
            continue
        if t.key == "exit_mmap_skip" and not k.exit_mmap_sets_skip:
            continue
        if t.key == "oom_killer_disable_timeout" and not k.disable_timeout:
            continue
        if t.key in ("exit_mmap_oom", "exit_mmap_barrier") and not k.exit_mmap_oom_barrier:
            continue
        if t.actor == "mrelease" and not k.process_mrelease:
            continue
        # --- memcg OOM path: W as a victim only where memory.oom.group exists
        if t.key in MEMCG_GROUP_KEYS and not k.memcg_oom_group:
            continue
        out.append(t)
    return tuple(out)


def fairness_of(t: Transition, k=None, mode: str = "standard") -> str:
    """Fairness class of a transition under a fairness mode.

    ``standard``: as declared (weak: thread steps not blocked, the reaper,
    timers; strong: oom_lock and mmap lock acquisition; none: IO
    completion, release of a lock held forever, starting suspend, a
    victim's own OOM).  ``weak-oom_lock``: acquiring oom_lock is only
    weakly fair."""
    lock, fair = t.lock, t.fair
    if t.key == "reap_attempt" and k is not None and k.reaper_oom_lock:
        lock, fair = "oom_lock", "strong"          # mutex_lock(&oom_lock), v4.7-v4.18
    if t.key in ("exit_mmap_unmap", "exit_mmap_free") and k is not None \
            and not k.exit_mmap_locked:
        fair = "weak"                              # no mmap lock in exit_mmap before v4.14
    if mode == "weak-oom_lock" and lock == "oom_lock" and t.key != "memcg_oom_lock":
        return "weak"                              # a queued mutex waiter stays strong
    return fair


def initial_state(k, sc) -> State:
    n = sc.threads
    th = []
    for i in range(n):
        pc = DSTATE if (sc.dstate and i == n - 1) else (FROZEN if sc.cgroup_frozen else RUN)
        th.append((pc, 0, 0))
    sharer = 1 if sc.mm_sharer or sc.init_sharer else 0   # the sharer's mm_users reference
    return State(th=tuple(th), killed=0, oom_victims=0, sig_victims=0, oom_mm=0,
                 mm_users=n + sharer,
                 mm_count=1, mmf=0, mem=MEM_MAPPED, vmas=VMAS_INTACT, town=-1, tpc=TP_NONE,
                 io=1 if sc.aio_blocked else 0, lockf=1 if sc.lock_forever else 0,
                 rpc=R_IDLE, rtask=-1, ratt=0, rnext=0, rlist=(), rtimers=(), rrefs=0, gave_up=0,
                 disabled=0, oom_lock=L_FREE, apc=0, w_killed=0, pm=P_OFF, sig_freed=0,
                 shm=sharer, robust=(1 << n) - 1 if sc.robust_futex else 0,
                 pin=1 if sc.odirect else 0)


def successors(k, sc, s, trans=None):
    """All (transition, instance, next_state, tags) enabled in ``s``."""
    out = []
    for t in trans or transitions_for(k):
        for i in t.instances(k, sc, s):
            for s2, tags in t.fire(k, sc, s, i):
                out.append((t, i, s2, tags))
    return out


def enabled(k, sc, s, key, instance=None) -> bool:
    """Is transition ``key`` (instance) enabled in ``s``?  (for replays)"""
    t = BY_KEY[key]
    return bool(t.fire(k, sc, s, instance))
