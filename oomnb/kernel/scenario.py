"""Scenarios: composable parameters of the environment around the victim.

A scenario string joins tokens with ``+``: ``aio-blocked``,
``dstate-thread``, ``mmap-lock-forever``, ``suspend``, ``second-oom``,
``fast-exit``, ``victim-oom`` and ``threads=N`` (1-3; also ``Nt``).

* ``aio-blocked``: the victim's mm has in-flight AIO; ``exit_aio`` waits
  for it; it may complete at any step, or never (IO completion is not a
  fair transition).
* ``dstate-thread``: the last thread of V sits in uninterruptible IO
  holding its ``->mm`` (an mm_users reference) until that IO completes
  (maybe never).  Implies at least 2 threads.
* ``mmap-lock-forever``: another process holds V's mmap lock for write
  and never releases it.
* ``mmap-lock``: the same lock, but its release is possible at any step
  (not a fair transition); for exploring what the release opens up.
* ``suspend``: ``freeze_processes()`` -> ``oom_killer_disable()`` may
  start at any step (once).
* ``second-oom``: the allocating task A invokes the OOM killer again any
  number of times; W is one more killable process in the same memcg.
* ``fast-exit``: nothing blocks the victim (the default environment).
* ``victim-oom``: killed victim threads may themselves enter
  ``out_of_memory`` (the ``task_will_free_mem(current)`` shortcut) before
  they reach ``do_exit``; this is the path of the v5.0 fix "oom,
  oom_reaper: do not enqueue same task twice".
* ``cgroup-frozen``: every thread of V starts in the refrigerator of a
  frozen cgroup (kernel/cgroup/legacy_freezer.c, or cgroup.freeze) and
  the cgroup is never thawed: ``cgroup_freezing(p)`` stays true, so a
  thread leaves only while the freezer exempts it as an OOM victim.
* ``process-mrelease``: a userspace killer (lmkd, systemd-oomd style) may
  send V SIGKILL itself (V is then not an OOM victim: no signal->oom_mm,
  no MMF_OOM_VICTIM) and calls ``process_mrelease(pidfd)`` on V once, a
  second reaper racing the oom_reaper and ``exit_mmap`` (v5.15+ only).
* ``hugetlb`` / ``mlocked``: besides its reapable anonymous memory the mm
  maps memory the reaper skips (__oom_reap_task_mm: VM_HUGETLB in every
  version; VM_LOCKED before v5.18, :attr:`Kernel.reaper_skips_mlocked`);
  only exit_mmap's unmap_vmas frees it.  It changes no step, only what
  ``no_premature_kill[strong]`` counts as memory the victim still holds.
* ``mm-sharer``: a process outside V shares its mm (CLONE_VM without
  CLONE_THREAD) and holds an mm_users reference; __oom_kill_process sends
  it SIGKILL without marking it, and it may drop the last reference and run
  __mmput/exit_mmap itself (the case of 4837fe37adff).  S is not a
  candidate of select_bad_process here (the kernel would pick S, which
  maps the same memory, once V's threads are gone), so no_premature_kill
  over-reports in this scenario; the scenario is for the exit_mmap race.
* ``robust-futex``: every thread of V has registered a robust futex list
  (set_robust_list) whose entries live in V's anonymous memory.  In
  do_exit each thread walks it in ``exit_robust_list`` at the start of
  exit_mm, before it gives up the mm (4.9: exit_mm -> mm_release; 6.1,
  6.12, 6.18: exit_mm -> exit_mm_release -> futex_exit_release ->
  futex_cleanup), reading user memory with
  get_user() to set FUTEX_OWNER_DIED and wake waiters.  What the waiters
  are and what they do is not modelled; ``robust_list_intact`` says the
  memory must still be there.
* ``walk-within-delay``: a timing assumption for ``robust-futex``: a
  victim thread that is not stuck (not frozen, not in D state, not
  blocked on a lock) finishes its robust-list walk before a *delayed*
  oom_reaper timer expires, i.e. SIGKILL delivery plus the steps up to the
  end of exit_robust_list take less than OOM_REAPER_DELAY
  (``Kernel.reaper_delay``, the ``OOM_REAPER_DELAY`` timer of
  :mod:`oomnb.kernel.timing`; the condition as a formula:
  ``transitions.walk_within_delay_condition``, ``2*t_cpu <
  OOM_REAPER_DELAY/HZ`` in 6.x).  A timer armed without delay (``0``) is
  not constrained.  Without this token the timer is one abstract step
  that may fire at any time after it was armed.
* ``init-sharer``: global init shares V's mm (CLONE_VM without
  CLONE_THREAD).  __oom_kill_process does not kill it (is_global_init);
  from v4.8 it hides the mm instead (MMF_OOM_REAPED, v4.9+ MMF_OOM_SKIP,
  "oom killer %d (%s) has mm pinned by %d (%s)") and does not queue the
  reaper.  Init keeps its mm_users reference for ever, so V's exit never
  runs __mmput.
* ``memcg-oom``: the OOM is a memcg's (mm/memcontrol.c:
  mem_cgroup_out_of_memory): the charger A is W's thread; it waits for
  oom_lock in the mutex's queue (mutex_lock, or mutex_lock_killable from
  v5.1: a fatal signal ends the wait) instead of the page allocator's
  mutex_trylock, and V's threads may hit the memcg limit and invoke the
  memcg OOM killer themselves.  Selection scans the memcg's tasks, which
  here are all of V and W, so it is the global selection of the model.
* ``oom-group``: the memcg has memory.oom.group set (cgroup v2, v4.19+):
  the kill of V kills W (and A) too, and W becomes a second OOM victim
  queued for the reaper (``w_*`` state fields).  On kernels without
  memory.oom.group (before v4.19) the knob does not exist and the kill
  is the single-process kill.
* ``odirect``: direct IO is in flight on part of V's anonymous memory (a
  read into it with O_DIRECT, through io_uring or AIO, or by a thread the
  model does not follow): the block layer holds those pages
  (block/bio.c:bio_iov_iter_get_pages: a page reference from
  iov_iter_get_pages2 in the 6.1 tree, a FOLL_PIN pin from
  iov_iter_extract_pages in the 6.12 tree) until the IO completes and
  __bio_release_pages drops it (folio_put_refs / unpin_user_folio).  Unmapping, by the reaper or by exit_mmap,
  removes the PTEs (anon-rss drops) but frees none of those pages; only the
  completion does (``dio_complete``, an ``IO`` step: not fair, it may never
  happen).  Nothing on the exit path waits for it.
* ``mmu-notifier``: a driver (a GPU userptr, a KVM-style secondary MMU)
  registered an MMU notifier on V's mm whose ``invalidate_range_start`` may
  refuse a non-blocking invalidation (-EAGAIN).  From v4.19 the reaper's
  __oom_reap_task_mm then skips that VMA and fails the attempt (a partial
  reap; :attr:`Kernel.reaper_mmu_notifier`); each attempt may succeed or
  fail.  The notifier is released by exit_mmap's mmu_notifier_release; an
  interval notifier (mmu_interval_notifier_insert, which
  mm/mmu_notifier.c:mn_itree_release leaves registered, 6.1 tree) is not
  modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OomnbError

TOKENS = ("aio-blocked", "dstate-thread", "mmap-lock-forever", "mmap-lock", "suspend",
          "second-oom", "fast-exit", "victim-oom", "cgroup-frozen", "process-mrelease", "hugetlb",
          "mlocked", "mm-sharer",
          # --- robust futex
          "robust-futex", "walk-within-delay",
          # --- init sharing the mm
          "init-sharer",
          # --- memcg OOM path
          "memcg-oom", "oom-group",
          # --- pinned and partly reaped memory
          "odirect", "mmu-notifier")


@dataclass(frozen=True)
class Scenario:
    threads: int = 1
    aio_blocked: bool = False
    dstate: bool = False
    lock_forever: bool = False
    lock_release: bool = False
    suspend: bool = False
    second_oom: bool = False
    fast_exit: bool = False
    victim_oom: bool = False
    cgroup_frozen: bool = False
    mrelease: bool = False
    hugetlb: bool = False      # the mm also maps hugetlb pages (no reaper unmaps them)
    mlocked: bool = False      # ... VM_LOCKED memory (the reaper skips it before v5.18)
    mm_sharer: bool = False    # another process shares V's mm (CLONE_VM, not CLONE_THREAD)
    # --- robust futex
    robust_futex: bool = False       # every thread of V has a robust list (set_robust_list)
    walk_within_delay: bool = False  # timing assumption: the walk ends within OOM_REAPER_DELAY
    # --- init sharing the mm
    init_sharer: bool = False        # global init shares V's mm (never killed, never exits)
    memcg_oom: bool = False    # the OOM is a memcg's: A charges, V's threads may charge too
    oom_group: bool = False    # memory.oom.group: the kill takes V and W together
    # --- pinned and partly reaped memory
    odirect: bool = False      # direct IO in flight pins part of the anonymous memory
    mmu_notifier: bool = False  # an MMU notifier may refuse non-blocking invalidation

    @property
    def name(self) -> str:
        toks = [t for t, on in (("aio-blocked", self.aio_blocked), ("dstate-thread", self.dstate),
                                ("mmap-lock-forever", self.lock_forever and not self.lock_release),
                                ("mmap-lock", self.lock_release), ("suspend", self.suspend),
                                ("second-oom", self.second_oom), ("fast-exit", self.fast_exit),
                                ("victim-oom", self.victim_oom),
                                ("cgroup-frozen", self.cgroup_frozen),
                                ("process-mrelease", self.mrelease),
                                ("hugetlb", self.hugetlb), ("mlocked", self.mlocked),
                                ("mm-sharer", self.mm_sharer),
                                ("robust-futex", self.robust_futex),
                                ("walk-within-delay", self.walk_within_delay),
                                ("init-sharer", self.init_sharer),
                                ("memcg-oom", self.memcg_oom),
                                ("oom-group", self.oom_group),
                                ("odirect", self.odirect),
                                ("mmu-notifier", self.mmu_notifier)) if on]
        return "+".join(toks) or "fast-exit"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.threads} thread{'s' if self.threads > 1 else ''})"

    @property
    def key(self) -> str:
        return f"{self.name}/{self.threads}t"


def parse_scenario(text: str, threads: int | None = None) -> Scenario:
    """Parse ``aio-blocked+suspend+second-oom+threads=2`` (or ``.../2t``)."""
    kw = {}
    n = None
    text = text.strip().replace("/", "+")
    for tok in filter(None, text.split("+")):
        tok = tok.strip()
        if tok.startswith("threads="):
            n = int(tok.split("=", 1)[1])
        elif tok.endswith("t") and tok[:-1].isdigit():
            n = int(tok[:-1])
        elif tok in TOKENS:
            kw[{"aio-blocked": "aio_blocked", "dstate-thread": "dstate",
                "mmap-lock-forever": "lock_forever", "mmap-lock": "lock_release",
                "suspend": "suspend",
                "second-oom": "second_oom", "fast-exit": "fast_exit",
                "victim-oom": "victim_oom", "cgroup-frozen": "cgroup_frozen",
                "process-mrelease": "mrelease",
                "hugetlb": "hugetlb", "mlocked": "mlocked", "mm-sharer": "mm_sharer",
                "robust-futex": "robust_futex", "walk-within-delay": "walk_within_delay",
                "init-sharer": "init_sharer",
                "memcg-oom": "memcg_oom", "oom-group": "oom_group",
                "odirect": "odirect", "mmu-notifier": "mmu_notifier"}[tok]] = True
        else:
            raise OomnbError(f"unknown scenario token {tok!r} (known: {', '.join(TOKENS)}, threads=N)")
    if kw.get("lock_release"):
        kw["lock_forever"] = True
    if threads is not None:
        n = threads
    if n is None:
        n = 2 if kw.get("dstate") else 1
    if not 1 <= n <= 3:
        raise OomnbError(f"threads must be 1..3, got {n}")
    if kw.get("oom_group") and not kw.get("memcg_oom"):
        raise OomnbError("oom-group needs memcg-oom (the group kill is modelled on the memcg "
                         "OOM path)")
    if kw.get("dstate") and n < 2:
        raise OomnbError("dstate-thread needs at least 2 threads (one of them in D state)")
    if kw.get("walk_within_delay") and not kw.get("robust_futex"):
        raise OomnbError("walk-within-delay is a timing assumption about robust-futex (add it)")
    if kw.get("init_sharer") and kw.get("mm_sharer"):
        raise OomnbError("init-sharer cannot be combined with mm-sharer (the model has one "
                         "sharer process)")
    return Scenario(threads=n, **kw)


#: the standard scenarios (their verdicts and state counts are test oracles)
STANDARD = (
    Scenario(threads=1, aio_blocked=True, suspend=True, second_oom=True),
    Scenario(threads=2, aio_blocked=True, suspend=True, second_oom=True),
    Scenario(threads=1, lock_forever=True, second_oom=True),
    Scenario(threads=2, dstate=True, second_oom=True),
    Scenario(threads=1, fast_exit=True),
    Scenario(threads=2, dstate=True, suspend=True),
    Scenario(threads=1, second_oom=True, memcg_oom=True, oom_group=True),
)
