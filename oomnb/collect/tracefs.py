"""A tracefs instance of the collector's own (never the global buffer or settings).

Events: what the analyses declare (:func:`oomnb.events.tracefs_paths`: the
``oom:`` tracepoints, ``signal:signal_generate``, ``sched:sched_process_exit``
and ``sched:sched_process_free``). Every one of them is restricted to the
run's own processes through its ``filter`` file on the event's ``pid`` field
(the victim's pid for the ``oom:`` events, the target of the signal, the
exiting task), so that OOM kills elsewhere on the machine, another
collector's included, never enter the run's trace; ``signal_generate`` is
also filtered on ``sig == 9``. ``set_event_pid`` is never used: it filters on
the *current* task, and ``wake_reaper`` fires in the timer softirq of whatever
task runs, the reaping events in the ``oom_reaper`` thread and
``sched_process_free`` in RCU softirq.
"""

from __future__ import annotations

import errno
import os
import time

from .. import events as EV
from ..errors import OomnbError

CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
#: the tracefs events the collector enables: what the analyses read
EVENTS = EV.tracefs_paths()
#: a filter every event gets besides the pid restriction
EXTRA_FILTER = {EV.event(EV.SIGNAL_GENERATE).tracefs: "sig == 9"}


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def find_tracefs(root: str = "/", mount_if_empty: bool = True) -> tuple[str | None, str | None, bool]:
    """(tracefs dir, problem, mounted_by_us). Mounts tracefs on an empty /sys/kernel/tracing."""
    r = root.rstrip("/")
    for c in CANDIDATES:
        p = r + c
        if os.path.isdir(os.path.join(p, "events", "oom")):
            return p, None, False
    p = r + CANDIDATES[0]
    mounted = False
    if mount_if_empty and root == "/" and os.path.isdir(p) and not os.listdir(p):
        try:
            with open("/proc/filesystems") as f:
                known = "tracefs" in f.read()
        except OSError:
            known = False
        if known:
            import subprocess
            rc = subprocess.run(["mount", "-t", "tracefs", "nodev", p], capture_output=True, text=True)
            mounted = rc.returncode == 0
            if mounted and os.path.isdir(os.path.join(p, "events", "oom")):
                return p, None, True
    for c in CANDIDATES:
        p = r + c
        if os.path.isdir(os.path.join(p, "instances")):
            return None, f"tracefs at {c} has no events/oom (kernel without OOM tracepoints)", mounted
    return None, "no real tracefs (with events/oom) at /sys/kernel/tracing or /sys/kernel/debug/tracing", mounted


class TraceInstance:
    """``instances/oomnb-...``: create(), filters, on(), marker(), read(), remove()."""

    def __init__(self, tracefs: str, name: str, buffer_kb: int = 2048):
        if not name.startswith("oomnb-"):
            raise ValueError("instance names start with oomnb-")
        self.tracefs = tracefs
        self.name = name
        self.dir = os.path.join(tracefs, "instances", name)
        self.buffer_kb = buffer_kb
        self.created = False
        self._marker_fd: int | None = None
        self.clock = None
        self.filters: dict[str, str] = {}

    def create(self, clock: str = "mono") -> None:
        os.mkdir(self.dir)
        self.created = True
        _write(self.p("tracing_on"), "0")
        _write(self.p("buffer_size_kb"), str(self.buffer_kb))
        opt = self.p("options", "pause-on-trace")
        if os.path.exists(opt):
            _write(opt, "0")  # reading `trace` while waiting must not pause recording
        _write(self.p("trace_clock"), clock)
        cur = open(self.p("trace_clock")).read()
        if f"[{clock}]" not in cur:
            raise OomnbError(f"trace_clock {clock} not accepted by {self.dir} ({cur.strip()})")
        self.clock = clock
        for e in EVENTS:
            if not os.path.isdir(self.p("events", e)):
                raise OomnbError(f"tracefs instance has no event {e}")
        for e, expr in EXTRA_FILTER.items():
            self.set_filter(e, expr)
        self.filters: dict[str, str] = dict(EXTRA_FILTER)

    def p(self, *rest: str) -> str:
        return os.path.join(self.dir, *rest)

    def set_filter(self, event: str, expr: str) -> None:
        try:
            _write(self.p("events", event, "filter"), expr)
        except OSError as e:
            raise OomnbError(f"filter {expr!r} rejected by {event}: {e.strerror}")

    def filter_pids(self, event: str, pids: list[int]) -> None:
        self.set_filter(event, " || ".join(f"pid == {p}" for p in sorted(set(pids))))

    def restrict_to(self, pids) -> dict[str, str]:
        """Record only events of these processes (each event's ``pid`` field);
        returns {event: filter}."""
        expr = " || ".join(f"pid == {p}" for p in sorted(set(pids)))
        if not expr:
            raise OomnbError("no pids to restrict the trace to")
        for e in EVENTS:
            extra = EXTRA_FILTER.get(e)
            f = f"({extra}) && ({expr})" if extra else expr
            self.set_filter(e, f)
            self.filters[e] = f
        return dict(self.filters)

    def enable(self) -> None:
        for e in EVENTS:
            _write(self.p("events", e, "enable"), "1")

    def on(self) -> None:
        _write(self.p("tracing_on"), "1")

    def off(self) -> None:
        if os.path.isdir(self.dir):
            _write(self.p("tracing_on"), "0")

    def marker(self, text: str) -> None:
        if self._marker_fd is None:
            self._marker_fd = os.open(self.p("trace_marker"), os.O_WRONLY)
        os.write(self._marker_fd, text.encode())

    def read(self) -> bytes:
        with open(self.p("trace"), "rb") as f:
            return f.read()

    def close(self) -> None:
        if self._marker_fd is not None:
            os.close(self._marker_fd)
            self._marker_fd = None

    def remove(self) -> None:
        """Stop, disable events, rmdir (retried: EBUSY while a reader holds it open)."""
        self.close()
        if not os.path.isdir(self.dir):
            self.created = False
            return
        try:
            self.off()
            _write(self.p("events", "enable"), "0")
        except OSError:
            pass
        last = None
        for i in range(10):
            try:
                os.rmdir(self.dir)
                self.created = False
                return
            except OSError as e:
                if e.errno == errno.ENOENT:
                    self.created = False
                    return
                last = e
                time.sleep(0.1 * (i + 1))
        raise OomnbError(f"rmdir {self.dir}: {last}")


def leftover_instances(tracefs: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(os.path.join(tracefs, "instances")) if n.startswith("oomnb-"))
    except OSError:
        return []
