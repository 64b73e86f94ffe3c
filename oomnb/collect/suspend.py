"""The ``suspend-dstate`` scenario's suspend step, and a plain block device for throttled reads.

``suspend-dstate`` is ``dstate-thread`` (a two-thread victim whose non-leader
thread sits in a throttled synchronous O_DIRECT read, the leader killed by the
memcg OOM killer) followed, once the kill is seen and the leader has exited,
by the kernel's suspend test: ``freezer`` into ``/sys/power/pm_test`` and
``mem`` into ``/sys/power/state``. That runs ``freeze_processes()`` (user
space, then ``oom_killer_disable()``), ``freeze_kernel_threads()``, waits
(5 s), thaws and returns, without suspending devices. The trace instance adds
``power:suspend_resume``; the kernel log (kmsg.txt) has the freezer's lines;
:func:`run` records every victim thread's state and stack right before the
write and right after it returns, and how the write ended (``EBUSY`` when
freezing failed).

Writing ``/sys/power/state`` would suspend a real machine: :func:`refusal`
allows it only inside a guest booted by ``oomnb collect --kernel-image``
(virtme-ng's init on the kernel command line).
"""

from __future__ import annotations

import errno
import os
import re
import time

from ..errors import OomnbError, Refused
from .. import events as EV
from .samplers import mono, read_task

PM_TEST = "/sys/power/pm_test"
STATE = "/sys/power/state"
DEBUG_MESSAGES = "/sys/power/pm_debug_messages"
EVENT = EV.EVENTS[EV.SUSPEND_RESUME].tracefs


def in_qemu_guest(cmdline: str | None = None) -> bool:
    """This kernel was booted by virtme-ng (its init and hostname are on the command line)."""
    if cmdline is None:
        try:
            cmdline = open("/proc/cmdline").read()
        except OSError:
            return False
    return "virtme_hostname=" in cmdline and "virtme-ng-init" in cmdline


def refusal(cmdline: str | None = None, root: str = "/") -> str | None:
    """Why suspend-dstate cannot run here (None when it can)."""
    if not in_qemu_guest(cmdline):
        return ("suspend-dstate writes /sys/power/state (the kernel's suspend test): it runs only inside a QEMU guest "
                "(oomnb collect --kernel-image ... --scenario suspend-dstate), never on this machine")
    r = root.rstrip("/")
    if not os.path.exists(r + PM_TEST):
        return "no /sys/power/pm_test (kernel without CONFIG_PM_DEBUG): the suspend test cannot stop after the freezer"
    try:
        if "mem" not in open(r + STATE).read().split():
            return "/sys/power/state does not offer mem"
    except OSError as e:
        return f"cannot read /sys/power/state: {e.strerror}"
    return None


def prepare(inst) -> None:
    """Enable ``power:suspend_resume`` in the run's trace instance."""
    ev = inst.p("events", EVENT, "enable")
    if not os.path.exists(ev):
        raise OomnbError(f"tracefs instance has no event {EVENT}")
    with open(ev, "w") as f:
        f.write("1")


def _threads(pid: int, tids: list[int]) -> dict:
    out = {}
    for t in tids:
        st = read_task(pid, t)
        out[str(t)] = {"state": st[0], "comm": st[1], "stack": st[2].splitlines()} if st else None
    return out


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def run(inst, name: str, pid: int, tids: list[int], leader_exit_wait: float = 5.0, pm_test: str = "freezer") -> dict:
    """Wait (bounded) for the killed leader's ``sched_process_exit``, then run the suspend test once."""
    t0 = time.monotonic()
    pat = re.compile(rf"{EV.SCHED_PROCESS_EXIT}: comm=\S+ pid={pid}\b")
    leader_exited = None
    while time.monotonic() - t0 < leader_exit_wait:
        if pat.search(inst.read().decode(errors="replace")):
            leader_exited = mono()
            break
        time.sleep(0.01)
    with open(PM_TEST) as f:
        old = re.search(r"\[(\w+)\]", f.read())
    old = old.group(1) if old else "none"
    out = {"pm_test": pm_test, "pm_test_before": old, "event": "power:suspend_resume (in trace.txt)", "leader_exit_seen": leader_exited is not None,
           "leader_exit_seen_monotonic_s": leader_exited}
    dbg = DEBUG_MESSAGES if os.path.exists(DEBUG_MESSAGES) else None
    dbg_old = open(dbg).read().strip() if dbg else None
    out["pm_debug_messages"] = bool(dbg)
    _write(PM_TEST, pm_test)
    if dbg:
        _write(dbg, "1")  # pm_pr_dbg lines (e.g. "Wakeup pending, aborting suspend") into the kernel log
    try:
        out["threads_at_start"] = _threads(pid, tids)
        inst.marker(f"oomnb: {name} phase=suspend-start pm_test={pm_test}\n")
        out["start_monotonic_s"] = mono()
        try:
            _write(STATE, "mem")
            out["result"] = "ok"
        except OSError as e:
            out["result"] = errno.errorcode.get(e.errno, str(e.errno))
            out["result_text"] = e.strerror
        out["end_monotonic_s"] = mono()
        inst.marker(f"oomnb: {name} phase=suspend-end result={out['result']}\n")
        out["threads_at_end"] = _threads(pid, tids)
    finally:
        _write(PM_TEST, old)
        if dbg:
            _write(dbg, dbg_old or "0")
    return out


class BlockDevice:
    """An existing block device (e.g. a virtio-blk disk, ``/dev/vda``) used instead of a new loop device:
    the same interface as :class:`~oomnb.collect.loopdev.LoopDevice`, nothing to create or remove."""

    def __init__(self, device: str):
        self.device = device
        self.backing = None
        self.size = None
        self.devnum: str | None = None

    def create(self) -> None:
        try:
            st = os.stat(self.device)
        except OSError as e:
            raise Refused(f"--device {self.device}: {e.strerror}")
        import stat as stat_m
        if not stat_m.S_ISBLK(st.st_mode):
            raise Refused(f"--device {self.device}: not a block device")
        self.devnum = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        try:
            with open(self.device, "rb") as f:
                self.size = f.seek(0, 2)
        except OSError:
            self.size = None
        if self.size is not None and self.size < (32 << 20):
            raise Refused(f"--device {self.device}: {self.size} bytes; the throttled readers need 32 MiB")

    def detach(self) -> None:
        pass

    def remove_backing(self) -> None:
        pass
