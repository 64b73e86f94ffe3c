"""The collector's scenarios: one object each, in one registry.

A scenario owns what differs between runs: its description and parameters,
what it needs (a throttled loop device, a freezer cgroup, a trigger, helper
processes), the victim program's arguments (``victim.py`` runs the matching
set-up), the steps around the kill (before the victim's set-up, after it is
ready, after the allocation starts, while waiting for the kill) and the
checks and caveats of the recorded run. The run itself
(:func:`oomnb.collect.runner.run_once`) is the same for every scenario and
calls these hooks with a :class:`Run`, the run's state.

Adding a scenario: subclass :class:`Scenario` (and, if its victim behaves
differently, add its set-up to ``victim.py``'s ``VICTIMS``), then
:func:`register` it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import OomnbError
from .samplers import read_task, tids_of


@dataclass
class Run:
    """What one run has set up so far (the hooks read and extend it)."""
    name: str
    limit: int
    opts: object
    env: object
    cg: object = None
    lo: object = None
    inst: object = None
    wd: object = None
    cleanup: object = None
    child: object = None            # runner.Child, to start helper processes
    victim: object = None
    pid: int | None = None
    tids: list = field(default_factory=list)
    info: dict = field(default_factory=dict)      # the victim's "ready" line
    pre_kill: dict = field(default_factory=dict)
    helpers: list = field(default_factory=list)
    trigger: object = None
    run_pids: list = field(default_factory=list)
    caveats: list = field(default_factory=list)

    def start_child(self, argv, role):
        """A helper or trigger process, killed on every exit path."""
        c = self.child(argv)
        self.cleanup.add("wait for victim exit", lambda: c.kill_and_wait(self.opts.exit_timeout))
        self.wd.actions.insert(0, lambda: c.proc.kill())
        if not (c.readline(15, self.wd) or "").startswith("hello"):
            raise OomnbError(f"{role} did not start: {c.stderr_tail()}")
        return c


class Scenario:
    name = ""
    description = ""
    loop = False        # a loop device whose reads are throttled
    iops: int | None = None
    bps: int | None = None
    freezer = False     # a freezer cgroup for the victim
    trigger = False     # a trigger process in the same memory cgroup
    helpers = False     # helper processes that block the victim's mmap_lock
    suspend = False     # the kernel's suspend test after the kill (QEMU guests only)
    victim: str | None = None   # victim.py's set-up (VICTIMS) when not the scenario's name

    # --- what it is ---------------------------------------------------------------------
    def describe(self, opts) -> str:
        return self.description.format(aio_nr=opts.aio_nr, lift_after=opts.lift_after,
                                       dstate_kib=opts.dstate_bytes >> 10, bps_kib=(self.bps or 0) >> 10,
                                       threads=opts.threads, hold_pct=opts.hold_pct, victim_adj=opts.victim_adj,
                                       rtf_bps=self.bps or 0)

    def plan(self) -> list[str]:
        """What the plan (``--dry-run``) says besides the limit."""
        out = []
        if self.loop:
            thr = " and ".join(([f"{self.iops} IO/s"] if self.iops else []) + ([f"{self.bps} B/s"] if self.bps else []))
            out.append(f"loop device on sparse /tmp/oomnb-...img, reads throttled to {thr}")
        return out

    def victim_oom_score_adj(self, opts) -> int:
        return 0

    # --- hooks, in the order of a run ----------------------------------------------------
    def victim_argv(self, run: Run) -> list[str]:
        """Arguments of ``victim.py victim`` besides ``--scenario``."""
        return ["--device", run.lo.device] if self.loop else []

    def before_setup(self, run: Run) -> None:
        """The victim is in its cgroups; its set-up has not started."""

    def after_ready(self, run: Run) -> None:
        """The victim finished its set-up (``run.info`` has its ready line)."""

    def after_alloc(self, run: Run) -> None:
        """The victim was told to allocate."""

    def while_waiting(self, run: Run) -> None:
        """Called while waiting for the kill; raise if the run cannot end in one."""

    def caveats(self, run: Run, stacks) -> list[str]:
        return []

    def meta(self, run: Run, stacks, killed: float) -> dict:
        """Scenario-specific keys of meta.json."""
        return {}


SCENARIOS: dict[str, Scenario] = {}


def register(sc: Scenario) -> Scenario:
    if not sc.name or sc.name in SCENARIOS:
        raise ValueError(f"scenario name {sc.name!r} is empty or taken")
    SCENARIOS[sc.name] = sc
    return sc


def wait_for(pred, timeout: float, watchdog, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        watchdog.check()
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class FastExit(Scenario):
    name = "fast-exit"
    description = ("the victim allocates 16 MiB chunks of anonymous memory until the memcg OOM killer kills it; "
                   "nothing obstructs its exit")


class AioBlocked(Scenario):
    name = "aio-blocked"
    description = ("before allocating, the victim submits {aio_nr} O_DIRECT Linux-AIO reads (io_setup/io_submit) "
                   "against a loop device whose reads are throttled to 1 IO/s, so its exit blocks in __mmput -> "
                   "exit_aio; the throttle is lifted once the reaper finished (or {lift_after:g} s after the kill)")
    loop, iops = True, 1

    def victim_argv(self, run):
        return super().victim_argv(run) + ["--aio-nr", str(run.opts.aio_nr)]

    def caveats(self, run, stacks):
        return [] if stacks.seen("exit_aio") else ["no stack sample showed exit_aio"]


class DstateThread(Scenario):
    name = "dstate-thread"
    description = ("one victim thread loops on a synchronous O_DIRECT preadv of {dstate_kib} KiB on a loop device "
                   "throttled to 1 IO/s and {bps_kib} KiB/s (uninterruptible, state D checked before the kill) and "
                   "so holds the mm while the other thread dies; the throttle is lifted once the reaper finished "
                   "(or {lift_after:g} s after the kill)")
    loop, iops, bps = True, 1, 256 << 10

    def victim_argv(self, run):
        return super().victim_argv(run) + ["--dstate-bytes", str(run.opts.dstate_bytes)]

    def after_ready(self, run):
        dtid = int(run.info["dstate_tid"])

        def in_d():
            st = read_task(run.pid, dtid)
            return st if st and st[0] == "D" else None
        st1 = wait_for(in_d, 10, run.wd, 0.01)
        time.sleep(0.05)
        st2 = in_d()
        if not (st1 and st2):
            raise OomnbError(f"dstate thread {dtid} not in state D before the kill")
        run.pre_kill["dstate_thread"] = {"tid": dtid, "state": st2[0], "stack": st2[2].splitlines()}


class SuspendDstate(DstateThread):
    name = "suspend-dstate"
    description = ("dstate-thread (a synchronous O_DIRECT preadv of {dstate_kib} KiB throttled to 1 IO/s and "
                   "{bps_kib} KiB/s in the non-leader thread), then, once the kill is seen and the leader has "
                   "exited, the kernel's suspend test (pm_test=freezer, mem into /sys/power/state: "
                   "freeze_processes, oom_killer_disable, a 5 s wait, thaw) with power:suspend_resume traced; "
                   "only inside a QEMU guest")
    victim = "dstate-thread"
    suspend = True


class FrozenVictim(Scenario):
    name = "frozen-victim"
    description = ("the victim ({threads} sleeper threads + main) holds {hold_pct}% of the limit and its freezer "
                   "cgroup is frozen; a trigger process in the same memory cgroup (not frozen) allocates until the "
                   "memcg OOM killer kills the frozen victim (oom_score_adj {victim_adj}); 6.18's mark_oom_victim "
                   "thaws every thread of the victim (thaw_process)")
    freezer = trigger = True

    def plan(self):
        return ["victim frozen, trigger in the same memcg"]

    def victim_oom_score_adj(self, opts):
        return opts.victim_adj

    def victim_argv(self, run):
        hold = run.limit * run.opts.hold_pct // 100 // (16 << 20) * (16 << 20)
        return ["--hold-bytes", str(hold), "--threads", str(run.opts.threads)]

    def before_setup(self, run):
        with open(f"/proc/{run.pid}/oom_score_adj", "w") as f:
            f.write(str(run.opts.victim_adj))

    def after_alloc(self, run):
        cg, inst = run.cg, run.inst
        cg.freeze()
        if not wait_for(cg.is_frozen, 10, run.wd, 0.01):
            raise OomnbError(f"victim cgroup did not freeze (state {cg.frozen_state()})")
        time.sleep(0.05)
        run.pre_kill["frozen"] = {"freezer_state": cg.frozen_state(),
                                  "threads": {t: (read_task(run.pid, t) or ("gone",))[0] for t in tids_of(run.pid)}}
        inst.marker(f"oomnb: {run.name} phase=frozen\n")
        run.trigger = run.start_child(["trigger", "--bytes", str(run.limit * run.opts.trigger_pct // 100)], "trigger")
        cg.add_trigger(run.trigger.pid)
        run.run_pids.append(run.trigger.pid)
        inst.restrict_to(run.run_pids)
        inst.marker(f"oomnb: {run.name} phase=trigger pid={run.trigger.pid}\n")
        run.trigger.send("setup")

    def while_waiting(self, run):
        t = run.trigger
        if t and not t.alive():
            raise OomnbError(f"trigger exited (rc {t.proc.returncode}) before the victim was killed: {t.stderr_tail()}")

    def meta(self, run, stacks, killed):
        from .runner import frozen_observation
        return {"frozen_observation": frozen_observation(stacks, run.pid, run.tids, run.pre_kill, killed)}


class ReaperTrylockFailure(Scenario):
    name = "reaper-trylock-failure"
    description = ("the victim maps the first MiB of a loop device whose reads are throttled to {rtf_bps} B/s and "
                   "then fills a pre-reserved anonymous region (page faults under the per-VMA lock); a helper reads "
                   "that mapping through /proc/<victim>/mem (access_remote_vm holds the victim's mmap_lock for read "
                   "while the fault waits for the throttled read) and a second helper writes 5 to "
                   "/proc/<victim>/clear_refs (waits for the mmap_lock for write); with a writer queued every "
                   "mmap_read_trylock fails, so the killed victim blocks in exit_mm and the oom_reaper logs "
                   "skip_task_reaping until 'unable to reap'; the throttle is lifted after that (or {lift_after:g} s "
                   "after the kill)")
    loop, iops, bps = True, None, 4096
    trigger = helpers = True
    #: (role, its argv, what its kernel stack shows once it blocks)
    HELPERS = (("memreader", ("access_remote_vm", "filemap", "folio", "io_schedule")),
               ("clearrefs", ("rwsem_down_write", "clear_refs")))

    def plan(self):
        return super().plan() + ["helpers block the victim's mmap_lock (/proc/<pid>/mem reader, clear_refs writer)"]

    def victim_argv(self, run):
        return super().victim_argv(run) + ["--region-bytes", str(2 * run.limit)]

    def after_ready(self, run):
        addr = int(run.info["dev_map_addr"])
        for role, want in self.HELPERS:
            extra = ["--addr", str(addr)] if role == "memreader" else []
            h = run.start_child([role, "--pid", str(run.pid)] + extra, f"{role} helper")
            run.helpers.append(h)
            run.cg.add_helper(h.pid)
            if run.env.layout.version == 2:  # v2: the helper is charged to the run's memcg; never its victim
                try:
                    with open(f"/proc/{h.pid}/oom_score_adj", "w") as f:
                        f.write("-1000")
                except OSError as e:
                    run.caveats.append(f"could not protect helper {h.pid} with oom_score_adj -1000: {e.strerror}")
            h.send("setup")

            def blocked(h=h, want=want):
                st = read_task(h.pid, h.pid)
                return st if st and st[0] == "D" and any(w in st[2] for w in want) else None
            got = wait_for(blocked, 10, run.wd, 0.01)
            time.sleep(0.05)
            if not (got and blocked()):
                st = read_task(h.pid, h.pid)
                raise OomnbError(f"{role} helper is not blocked as planned (state {st[0] if st else '?'}: "
                                 f"{(st[2] if st else '').split()[:8]})")
            run.pre_kill.setdefault("helpers", {})[role] = {"pid": h.pid, "state": got[0], "stack": got[2].splitlines()}


for _sc in (FastExit(), AioBlocked(), DstateThread(), FrozenVictim(), ReaperTrylockFailure(),
            SuspendDstate()):
    register(_sc)
