"""One controlled OOM kill: set up, record, tear down (in a fixed order, always).

The collector refuses unless it is safe (:func:`preflight`), then for each
run: a tracefs instance, a loop device (throttled scenarios), the run's
cgroups, the kmsg cursor and printk marker, the victim (and, for
``frozen-victim``, a trigger), the samplers; it waits for the kill, lifts the
throttle once the reaper finished (or ``lift_after`` s after the kill), waits
for the victim to be freed and writes the run directory. A watchdog bounds
every run. Cleanup runs on every path in the order of :data:`CLEANUP_ORDER`.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .. import events as EV
from ..errors import OomnbError, Refused
from ..trace import ftrace, klog
from . import cgroups as cgm
from . import metadata as md
from .kmsg import KmsgReader, write_marker
from . import suspend as susp
from .loopdev import LoopDevice
from . import scenarios as _scenarios
from .scenarios import wait_for
from .samplers import MemcgSampler, StackSampler, mono, read_task, tids_of
from .tracefs import EVENTS, TraceInstance, find_tracefs

VICTIM = str(Path(__file__).with_name("victim.py"))
SAFE_FRACTION = 0.5  # a limit must stay below this fraction of MemAvailable

CLEANUP_ORDER = (
    "lift throttles",
    "wait for victim exit",
    "close trace readers",
    "remove cgroups",
    "detach loop device",
    "remove backing file",
    "remove trace instance",
)


#: the scenarios, one object each (:mod:`oomnb.collect.scenarios`)
SCENARIOS = _scenarios.SCENARIOS


@dataclass
class Options:
    aio_nr: int = 128
    lift_after: float = 6.0
    dstate_bytes: int = 4 << 20
    threads: int = 3
    hold_pct: int = 60
    trigger_pct: int = 75
    victim_adj: int = 500
    memcg_interval: float = 0.002
    stack_interval: float = 0.005
    watchdog: float | None = None  # seconds per run; default from the limit
    exit_timeout: float = 30.0
    device: str | None = None  # throttled scenarios read this block device instead of a new loop device
    frozen_exit_wait: float = 10.0  # frozen-victim: thaw the cgroup if the victim has not exited by then


class Interrupted(OomnbError):
    """SIGINT or SIGTERM during a run (after cleanup)."""

    exit_code = 130


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(i?B)?\s*", text, re.I)
    if not m:
        raise OomnbError(f"bad size {text!r} (e.g. 256M, 1G)")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2).upper()]


def size_label(n: int) -> str:
    return f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n}B"


# ---------------------------------------------------------------------------------------------------
# preflight


@dataclass
class Environment:
    root: str = "/"
    euid: int | None = None
    tracefs: str | None = None
    tracefs_mounted: bool = False
    layout: cgm.Layout | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def preflight(scenarios: list[str], limits: list[int], root: str = "/", euid: int | None = None,
              mount_tracefs: bool = True) -> Environment:
    """Everything that must hold before any OOM is triggered; ``problems`` lists each missing piece."""
    env = Environment(root=root, euid=os.geteuid() if euid is None else euid)
    P = env.problems
    r = root.rstrip("/")
    if env.euid != 0:
        P.append("not root (needs root for cgroups, tracefs and loop devices)")
    tfs, why, mounted = find_tracefs(root, mount_if_empty=mount_tracefs and env.euid == 0)
    env.tracefs, env.tracefs_mounted = tfs, mounted
    if mounted:
        env.notes.append("mounted tracefs at /sys/kernel/tracing (it stays mounted)")
    if why:
        P.append(why)
    elif not os.path.isdir(os.path.join(tfs, "instances")):
        P.append(f"{tfs} has no instances/ (cannot use a trace instance of our own)")
    env.layout = cgm.detect(root, need_freezer=any(SCENARIOS[s].freezer for s in scenarios))
    P.extend(env.layout.problems)
    if any(SCENARIOS[s].loop for s in scenarios):
        if shutil.which("losetup") is None:
            P.append("losetup not found (util-linux), needed for the throttled loop device")
        if not os.path.exists(r + "/dev/loop-control"):
            P.append("no /dev/loop-control (loop devices unavailable)")
        if not os.path.exists(r + "/proc/sys/fs/aio-max-nr"):
            P.append("no Linux AIO (/proc/sys/fs/aio-max-nr missing)")
    if not os.access(r + "/dev/kmsg", os.R_OK):
        P.append("cannot read /dev/kmsg")
    try:
        pan = int(open(r + "/proc/sys/vm/panic_on_oom").read().strip())
        if pan == 2:
            P.append("vm.panic_on_oom=2: a memcg OOM would panic the machine")
    except (OSError, ValueError):
        P.append("cannot read vm.panic_on_oom")
    try:
        avail = md_meminfo(root).get("MemAvailable")
    except OSError:
        avail = None
    if avail is None:
        P.append("cannot read MemAvailable from /proc/meminfo")
    else:
        for lim in limits:
            if lim > SAFE_FRACTION * avail:
                P.append(f"limit {size_label(lim)} is above {SAFE_FRACTION:.0%} of MemAvailable "
                         f"({avail >> 20} MiB): refusing (risk of global memory pressure)")
        for lim in limits:
            if lim < (64 << 20):
                P.append(f"limit {size_label(lim)} is below 64M (the victim interpreter alone needs ~20 MiB)")
    if env.layout and env.layout.version:
        for d, lim, use in cgm.limits_above(env.layout):
            for l2 in limits:
                if lim - use < l2 + (64 << 20):
                    P.append(f"ancestor memory cgroup {d} has limit {lim >> 20} MiB with {use >> 20} MiB used: "
                             f"a {size_label(l2)} victim would push it into OOM (the collector itself could be killed)")
    return env


def md_meminfo(root: str) -> dict[str, int]:
    out = {}
    with open(root.rstrip("/") + "/proc/meminfo") as f:
        for line in f:
            k, _, rest = line.partition(":")
            v = rest.split()
            if v and v[0].isdigit():
                out[k] = int(v[0]) * 1024
    return out


def plan_lines(scenarios: list[str], limits: list[int], runs: int, out: str, env: Environment, opts: Options) -> list[str]:
    L = env.layout
    own = ", ".join(f"{c or 'unified'}:{p}" for c, p in (L.own.items() if L else [])) or "?"
    lines = [f"plan: {len(scenarios) * len(limits) * runs} run(s) into {out}",
             f"  cgroup v{L.version if L else '?'}; own cgroup(s) {own}; run cgroups oomnb-<pid>-<scenario>-<limit>-<run> below them",
             f"  tracefs {env.tracefs or '?'}: instance oomnb-..., trace_clock mono, events "
             + ", ".join(e.split("/")[1] for e in EVENTS) + f" (each: pid == the run's pids; {EV.SIGNAL_GENERATE} sig == 9)"]
    for s in scenarios:
        sc = SCENARIOS[s]
        for lim in limits:
            for i in range(runs):
                extra = sc.plan()
                lines.append(f"  {s}-{size_label(lim)}-<next index>: limit {lim} bytes" + ("; " + "; ".join(extra) if extra else ""))
    lines.append("  cleanup on every exit path: " + " -> ".join(CLEANUP_ORDER))
    for n in env.notes:
        lines.append("  note: " + n)
    for p in env.problems:
        lines.append("  would refuse: " + p)
    return lines


# ---------------------------------------------------------------------------------------------------
# cleanup


class Cleanup:
    """Registered teardown steps, run in :data:`CLEANUP_ORDER`, each retried and reported."""

    def __init__(self):
        self.steps: dict[str, list] = {k: [] for k in CLEANUP_ORDER}
        self.report: list[tuple[str, str]] = []

    def add(self, step: str, fn) -> None:
        self.steps[step].append(fn)

    def run(self) -> list[tuple[str, str]]:
        self.report = []
        for step in CLEANUP_ORDER:
            fns = self.steps[step]
            if not fns:
                self.report.append((step, "nothing to do"))
                continue
            errs = []
            for fn in fns:
                for attempt in range(3):
                    try:
                        fn()
                        break
                    except Exception as e:  # noqa: BLE001 - every failure is reported
                        if attempt == 2:
                            errs.append(f"{type(e).__name__}: {e}")
                        else:
                            time.sleep(0.2)
            self.report.append((step, "FAILED: " + "; ".join(errs) if errs else "ok"))
            self.steps[step] = []
        return self.report

    def ok(self) -> bool:
        return all(not s.startswith("FAILED") for _, s in self.report)

    def line(self) -> str:
        return "cleanup: " + ", ".join(f"{k} {v}" for k, v in self.report)


class _Deferred:
    """Signals during cleanup are noted, not acted on (cleanup must complete)."""

    def __enter__(self):
        self.got = []
        self.old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread():
            for s in self.old:
                signal.signal(s, lambda n, f: (self.got.append(n),
                                               print("oomnb collect: cleanup in progress, signal deferred", file=sys.stderr)))
        return self

    def __exit__(self, *exc):
        if threading.current_thread() is threading.main_thread():
            for s, h in self.old.items():
                signal.signal(s, h)
        return False


# ---------------------------------------------------------------------------------------------------
# the child processes


class Child:
    """A victim or trigger process speaking the line protocol of victim.py."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen([sys.executable, "-u", VICTIM] + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                                     start_new_session=True)  # Ctrl-C goes to the collector only
        self.buf = b""
        self.pid = self.proc.pid

    def readline(self, timeout: float, watchdog=None) -> str | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            if watchdog is not None:
                watchdog.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], min(left, 0.1))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def send(self, word: str) -> None:
        try:
            self.proc.stdin.write((word + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise OomnbError(f"pid {self.pid} is gone (rc {self.proc.poll()}) before {word!r}: {e}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self) -> str:
        try:
            if self.proc.poll() is not None:
                return self.proc.stderr.read()[-500:].decode(errors="replace").strip()
        except (OSError, ValueError):
            pass
        return ""

    def kill_and_wait(self, timeout: float) -> None:
        """SIGKILL if alive, wait (bounded); raises if it does not exit."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            st = read_task(self.pid, self.pid)
            raise OomnbError(f"pid {self.pid} did not exit within {timeout:g} s (state {st[0] if st else '?'})")
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError, BrokenPipeError):
                pass


class Watchdog:
    """Bounds a run: after ``seconds`` it kills the children and lifts throttles/freezing."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.fired = False
        self.actions: list = []
        self.diagnose: list = []
        self.diagnosis: list[str] = []
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def start(self):
        self.timer.start()
        return self

    def _fire(self):
        for fn in self.diagnose:
            try:
                self.diagnosis.append(fn())
            except Exception as e:  # noqa: BLE001
                self.diagnosis.append(f"diagnosis failed: {e}")
        self.fired = True
        for fn in self.actions:
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort; cleanup reports
                pass

    def check(self):
        if self.fired:
            raise OomnbError(f"watchdog: run exceeded {self.seconds:g} s, victim killed; at that time: "
                             + " | ".join(self.diagnosis))

    def cancel(self):
        self.timer.cancel()


# ---------------------------------------------------------------------------------------------------
# one run


class TraceEvents:
    """What the run's trace instance recorded so far, read with the project's
    ftrace reader (:func:`oomnb.trace.ftrace.parse_line`)."""

    def __init__(self, inst: TraceInstance):
        self.inst = inst
        self.got: set[tuple[str, int]] = set()

    def refresh(self) -> None:
        for line in self.inst.read().decode(errors="replace").splitlines():
            r = ftrace.parse_line(line)
            if isinstance(r, tuple) and isinstance(r[1], dict) and r[1].get("pid") is not None:
                self.got.add((r[0], r[1]["pid"]))

    def has(self, event: str, pid: int, refresh: bool = True) -> bool:
        if refresh or (event, pid) not in self.got:
            self.refresh()
        return (event, pid) in self.got


def _kmsg_rows(text: bytes):
    """(kind, fields) of the OOM lines of /dev/kmsg records, read with the project's log reader."""
    for line in text.decode(errors="replace").splitlines():
        p = klog.split_prefix(line)
        r = klog.classify(p.msg, ident=p.ident) if p.msg else None
        if r is not None:
            yield r[0], r[1], p


def kmsg_has(text: bytes, kind: str, pid: int) -> bool:
    return any(k == kind and f.get("pid") == pid for k, f, _ in _kmsg_rows(text))


def foreign_kills(kmsg_file: Path, run_pids) -> list[dict]:
    """OOM kills in the run's kernel log of processes that are not the run's."""
    from ..trace.episodes import KILL_KINDS
    own = set(run_pids)
    out, seen_pids = [], set()
    for kind, f, p in _kmsg_rows(kmsg_file.read_bytes()):
        pid = f.get("pid")
        if kind in KILL_KINDS and pid is not None and pid not in own and pid not in seen_pids:
            seen_pids.add(pid)
            out.append({"pid": pid, "comm": f.get("comm"), "kind": kind, "printk_s": p.ts,
                        "oom_memcg": f.get("oom_memcg"), "task_memcg": f.get("task_memcg")})
    return out


def next_index(machine_dir: Path, scenario: str, limit: int) -> int:
    """The run index: the sequence index within the set's runs of this scenario."""
    n = 0
    if machine_dir.is_dir():
        for d in machine_dir.iterdir():
            if d.is_dir() and d.name.startswith(scenario + "-") and not d.name.endswith(".partial"):
                m = re.fullmatch(re.escape(scenario) + r"-\d+[A-Z]?B?-(\d+)", d.name)
                if m:
                    n = max(n, int(m.group(1)) + 1)
    return n


def env_phase_hook():
    """Test instrumentation: OOMNB_COLLECT_PHASE_LOG gets one line per phase, and
    OOMNB_COLLECT_PHASE_PAUSE=<phase> sleeps OOMNB_COLLECT_PAUSE_S (default 3) there."""
    log = os.environ.get("OOMNB_COLLECT_PHASE_LOG")
    pause = os.environ.get("OOMNB_COLLECT_PHASE_PAUSE")
    secs = float(os.environ.get("OOMNB_COLLECT_PAUSE_S", "3"))

    def hook(phase: str, **kw):
        if log:
            with open(log, "a") as f:
                f.write(" ".join([phase] + [f"{k}={v}" for k, v in kw.items()]) + "\n")
        if pause == phase:
            end = time.monotonic() + secs
            while time.monotonic() < end:
                time.sleep(0.01)
    return hook


def run_once(env: Environment, scenario: str, limit: int, index: int, machine_dir: Path, opts: Options,
             log=lambda s: print(s, file=sys.stderr), phase_hook=None) -> dict:
    """Record one run into ``machine_dir/<scenario>-<limit>-<index>/``; returns a summary dict."""
    sc = SCENARIOS[scenario]
    label = f"{scenario}-{size_label(limit)}-{index}"
    name = f"oomnb-{os.getpid()}-{label}"
    final = machine_dir / label
    tmp = machine_dir / (label + ".partial")
    if final.exists():
        raise OomnbError(f"{final} exists already")
    hook = phase_hook or env_phase_hook()
    cleanup = Cleanup()
    summary: dict = {"run": label}
    wd = Watchdog(opts.watchdog or (60.0 + 15.0 * limit / (1 << 30)))
    kmsg = KmsgReader()
    mem_s = stk_s = None
    victim = trigger = None
    caveats: list[str] = []
    t_start = mono()
    ok = False
    try:
        avail = md_meminfo(env.root).get("MemAvailable", 0)
        if limit > SAFE_FRACTION * avail:
            raise Refused(f"limit {size_label(limit)} is above {SAFE_FRACTION:.0%} of MemAvailable ({avail >> 20} MiB) now")
        shutil.rmtree(tmp, ignore_errors=True)  # a stale .partial of a killed collector
        tmp.mkdir(parents=True)
        hook("setup")
        # tracefs instance
        inst = TraceInstance(env.tracefs, name)
        cleanup.add("remove trace instance", inst.remove)
        inst.create("mono")
        if sc.suspend:
            susp.prepare(inst)
        # loop device
        lo = None
        if sc.loop:
            lo = susp.BlockDevice(opts.device) if opts.device else LoopDevice(name)
            cleanup.add("remove backing file", lo.remove_backing)
            cleanup.add("detach loop device", lo.detach)
            lo.create()
        # cgroups
        cg = cgm.make(env.layout, name, freezer=sc.freezer, trigger=sc.trigger)
        cleanup.add("remove cgroups", cg.remove)
        swap = md_meminfo(env.root).get("SwapTotal", 0)
        cg.create(limit, swap)

        def lift():
            if sc.loop:
                cg.lift_throttle()
            if sc.freezer:
                cg.thaw()
        cleanup.add("lift throttles", lift)
        wd.actions += [lift]
        # readers
        kmsg.open()
        cleanup.add("close trace readers", kmsg.close)
        cleanup.add("close trace readers", inst.close)
        marker0 = write_marker(kmsg, f"oomnb: {name} start\n")
        hook("created")
        before = {"vmstat": md.vmstat(), "memcg_oom_kill": cg.oom_kill_count()}
        load_start = {"loadavg": _read_text("/proc/loadavg"), "mem_available_bytes": md_meminfo(env.root).get("MemAvailable")}
        # victim
        run = _scenarios.Run(name=name, limit=limit, opts=opts, env=env, cg=cg, lo=lo, inst=inst, wd=wd,
                             cleanup=cleanup, child=Child, caveats=caveats)
        argv = ["victim", "--scenario", sc.victim or scenario] + sc.victim_argv(run)
        victim = run.victim = Child(argv)
        cleanup.add("wait for victim exit", lambda: victim.kill_and_wait(opts.exit_timeout))
        wd.actions.insert(0, lambda: victim.proc.kill())
        wd.start()
        hello = victim.readline(15, wd)
        if not hello or not hello.startswith("hello "):
            raise OomnbError(f"victim did not start ({hello!r}): {victim.stderr_tail()}")
        pid = run.pid = victim.pid
        wd.diagnose.append(lambda: _diagnose(pid, cg))
        cg.add_victim(pid)
        sc.before_setup(run)
        if sc.loop:
            cg.throttle_read(lo.devnum, sc.iops, sc.bps)
        victim.send("setup")
        ready = victim.readline(60, wd)
        if not ready or not ready.startswith("ready"):
            raise OomnbError(f"victim set-up failed ({ready!r}): {victim.stderr_tail()}")
        run.info = dict(kv.split("=", 1) for kv in ready.split()[1:])
        tids = run.tids = tids_of(pid)
        summary["pid"] = pid
        hook("ready", pid=pid)
        pre_kill = run.pre_kill
        sc.after_ready(run)
        helpers = run.helpers
        run_pids = run.run_pids
        run_pids += tids + [h.pid for h in helpers]
        inst.restrict_to(run_pids)   # other OOM kills on the machine stay out of the trace
        inst.enable()
        inst.on()
        inst.marker(f"oomnb: {name} phase=alloc pid={pid} tids={','.join(map(str, tids))}\n")
        mem_s = MemcgSampler(cg.usage_file, opts.memcg_interval)
        stk_s = StackSampler([pid], opts.stack_interval)
        cleanup.add("close trace readers", mem_s.stop)
        cleanup.add("close trace readers", stk_s.stop)
        mem_s.start()
        stk_s.start()
        victim.send("alloc")
        sc.after_alloc(run)
        trigger = run.trigger
        trig_pid = trigger.pid if trigger else None
        hook("alloc", pid=pid)
        seen = TraceEvents(inst)
        t_alloc = mono()
        killed, thp_last = _wait_for_kill(run, sc, seen, before["memcg_oom_kill"] or 0)
        if not wait_for(lambda: seen.has(EV.MARK_VICTIM, pid), 2, wd, 0.01):
            caveats.append(f"mark_victim of pid {pid} not in the trace 2 s after the memcg oom_kill counter rose")
        hook("killed", pid=pid)
        inst.marker(f"oomnb: {name} phase=kill-seen\n")
        if sc.freezer:
            pre_kill["freezer_state_after_kill_seen"] = cg.frozen_state()
        stk_s.interval = min(stk_s.interval, 0.005)
        suspended = susp.run(inst, name, pid, tids) if sc.suspend else None
        lifted = None
        if sc.loop:
            def reaper_done():
                if seen.has(EV.FINISH_TASK_REAPING, pid):
                    return "reaper finished"
                kmsg.poll()
                if kmsg_has(kmsg.text(), EV.REAP_UNABLE_LINE, pid):
                    return "reaper gave up (unable to reap)"
                if not victim.alive():
                    return "victim exited"
                return None
            reason = wait_for(reaper_done, opts.lift_after, wd, 0.01) or f"timeout {opts.lift_after:g} s after the kill"
            cg.lift_throttle()
            lifted = mono()
            inst.marker(f"oomnb: {name} phase=throttle-lifted reason={reason.replace(' ', '_')}\n")
            summary["lift_reason"] = reason
        hook("reaping", pid=pid)
        thawed = None
        if sc.freezer:
            thawed = frozen_exit_wait(victim, cg, inst, name, pid, tids, pre_kill, opts)
        try:
            victim.proc.wait(opts.exit_timeout)
        except subprocess.TimeoutExpired:
            raise OomnbError(f"victim {pid} did not exit within {opts.exit_timeout:g} s after the kill")
        t_exit = mono()
        if victim.proc.returncode != -signal.SIGKILL:
            caveats.append(f"victim exit status {victim.proc.returncode} (expected SIGKILL)")
        freed = wait_for(lambda: seen.has(EV.SCHED_PROCESS_FREE, pid), 3, wd, 0.02)
        if not freed:
            caveats.append("sched_process_free of the victim not seen within 3 s of its exit")
        for h in helpers:
            got = h.readline(20, wd)
            if not (got or "").startswith("done"):
                caveats.append(f"helper {h.pid} did not complete after the lift ({got!r})")
            h.proc.stdin.close()
            h.proc.wait(10)
        if trigger is not None:
            done = trigger.readline(20, wd)
            summary["trigger"] = done
            if not (done or "").startswith("done"):
                caveats.append(f"trigger did not complete its allocation after the kill ({done!r})")
            trigger.proc.stdin.close()
            trigger.proc.wait(10)
        time.sleep(0.05)
        stk_s.stop()
        mem_s.stop()
        wd.cancel()
        hook("collect")
        marker1 = write_marker(kmsg, f"oomnb: {name} end\n")
        kmsg.poll()
        after = {"vmstat": md.vmstat(), "memcg_oom_kill": cg.oom_kill_count()}
        stat_after = cg.stat()
        inst.off()
        trace = inst.read()
        # files
        (tmp / "trace.txt").write_bytes(trace)
        (tmp / "kmsg.txt").write_bytes(kmsg.text())
        (tmp / "memcg.csv").write_text(mem_s.csv())
        (tmp / "stacks.txt").write_text(stk_s.text())
        d_vm = after["vmstat"].get("oom_kill", 0) - before["vmstat"].get("oom_kill", 0)
        d_cg = (after["memcg_oom_kill"] or 0) - (before["memcg_oom_kill"] or 0) if after["memcg_oom_kill"] is not None else None
        foreign = foreign_kills(tmp / "kmsg.txt", run_pids)
        if foreign:
            caveats.append(f"{len(foreign)} OOM kill(s) of other processes on the machine during the run "
                           "(in kmsg.txt, kept out of the trace and the run's episodes): "
                           + ", ".join(f"pid {f['pid']} ({f['comm']})" for f in foreign))
        if d_vm != 1 + len(foreign):
            caveats.append(f"/proc/vmstat oom_kill rose by {d_vm} during the run (expected {1 + len(foreign)}): "
                           "other OOM kills on the machine, or missed")
        if d_cg is not None and d_cg != 1:
            caveats.append(f"the run's memcg oom_kill counter rose by {d_cg} (expected 1)")
        if kmsg.lost:
            caveats.append(f"{kmsg.lost} kmsg records were overwritten before they were read")
        if mem_s.error:
            caveats.append(f"memcg sampler: {mem_s.error}")
        exit_aio = stk_s.seen("exit_aio")
        caveats += sc.caveats(run, stk_s)
        if "error" in marker0 or "error" in marker1:
            caveats.append("printk marker: " + (marker0.get("error") or marker1.get("error")))
        fmt = {"trace.txt": "ftrace", "kmsg.txt": "kmsg", "memcg.csv": "memcg-csv", "stacks.txt": "stacks"}
        params = {"aio_nr": opts.aio_nr, "lift_after_s": opts.lift_after, "dstate_bytes": opts.dstate_bytes,
                  "threads": opts.threads, "hold_pct": opts.hold_pct, "trigger_pct": opts.trigger_pct,
                  "victim_oom_score_adj": sc.victim_oom_score_adj(opts),
                  "throttle_read_iops": sc.iops, "throttle_read_bps": sc.bps, "chunk_bytes": 16 << 20,
                  "memcg_interval_s": opts.memcg_interval, "stack_interval_s": opts.stack_interval,
                  "watchdog_s": wd.seconds}
        desc = sc.describe(opts)
        mach = machine_dir.name
        meta = {
            "schema": "oomnb-run/1",
            "machine": mach,
            "scenario": scenario,
            "scenario_description": desc,
            "limit_bytes": limit,
            "run": index,
            "run_note": "sequence index within the set's runs of this scenario, not a repetition count",
            "trace_clock": inst.clock,
            "cgroup_version": env.layout.version,
            "kernel_release": os.uname().release,
            "victim_pids": [pid],
            "victim_tids": tids,
            "trigger_pid": trig_pid,
            "helper_pids": [h.pid for h in helpers],
            "files": fmt,
            "provenance": {"kind": "collected", "source": f"oomnb collect {__version__}",
                           "captured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "description": "controlled memcg OOM kill recorded by oomnb collect on this machine; "
                                          "files written verbatim as read from the kernel"},
            "oomnb_version": __version__,
            "parameters": params,
            "cgroups": cg.files(),
            "loop_device": {"device": lo.device, "devnum": lo.devnum, "backing_size": lo.size} if lo else None,
            "tracefs_instance": name,
            "events": list(inst.filters),
            "event_filters": inst.filters,
            "run_pids": sorted(set(run_pids)),
            "foreign_kills": foreign,
            "clock_offset": {"note": "printk (local_clock) minus CLOCK_MONOTONIC (= trace_clock mono), from markers written "
                                     "to /dev/kmsg between two clock_gettime(CLOCK_MONOTONIC) calls",
                             "start": marker0, "end": marker1},
            "timeline_monotonic_s": {"collector_start": t_start, "alloc_sent": t_alloc, "kill_seen": killed,
                                     "throttle_lifted": lifted, "thawed_by_collector": thawed,
                                     "victim_reaped_by_waitpid": t_exit},
            "pre_kill": pre_kill,
            "machine_load_at_start": dict(load_start, note="other work on the machine (CPU, memory bandwidth) "
                                          "slows reaping and exit; compare reap rates only between quiet runs"),
            "sysctl_at_start": {k.replace("/", "."): _read_text(f"/proc/sys/{k}") for k in md.SYSCTLS},
            "thp_at_start": {"enabled": md.thp_mode("enabled"), "defrag": md.thp_mode("defrag")},
            "anon_huge_pages_before_kill": {"monotonic_s": thp_last[0], "bytes": thp_last[1],
                                            "source": "memcg memory.stat " + ("rss_huge" if env.layout.version == 1 else "anon_thp")
                                            + " (the victim is the only process charging the memcg"
                                            + ("; the trigger's memory is included" if sc.trigger else "") + ")"}
            if thp_last else None,
            "oom_kill_counters": {"vmstat_before": before["vmstat"].get("oom_kill"), "vmstat_after": after["vmstat"].get("oom_kill"),
                                  "memcg_before": before["memcg_oom_kill"], "memcg_after": after["memcg_oom_kill"]},
            "memcg_stat_after": {k: stat_after[k] for k in ("rss_huge", "anon_thp", "total_rss", "anon") if k in stat_after},
            "stacks_show_exit_aio": exit_aio,
            "victim_exit_status": victim.proc.returncode,
            "caveats": caveats,
        }
        meta.update(sc.meta(run, stk_s, killed))
        if suspended is not None:
            meta["suspend"] = suspended
            meta["events"].append(EV.EVENTS[EV.SUSPEND_RESUME].tracefs)
        meta["clock_offset"]["kill_anchor"] = kill_anchor(trace, kmsg.text(), pid)
        pm = re.search(rb" (PREEMPT(?:_RT|_LAZY)?(?:\([a-z]+\))?) ?$", kmsg.text(), re.M)
        meta["preempt_from_oom_report"] = pm.group(1).decode() if pm else None
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        summary.update({"kill_after_alloc_s": killed - t_alloc, "exit_after_kill_s": t_exit - killed,
                        "stacks_exit_aio": exit_aio, "caveats": caveats})
        ok = True
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted during {label}")
    except OSError as e:
        raise OomnbError(f"{label}: {e}")
    finally:
        wd.cancel()
        with _Deferred() as deferred:
            hook("cleanup", pid=summary.get("pid"))
            cleanup.run()
            if ok and cleanup.ok():
                tmp.rename(final)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        summary["cleanup"] = cleanup.report
        log(f"  {cleanup.line()}")
        if not cleanup.ok():
            raise OomnbError(f"{label}: cleanup incomplete: " + "; ".join(f"{k}: {v}" for k, v in cleanup.report if v.startswith("FAILED")))
        if deferred.got and ok:
            raise Interrupted(f"interrupted during the cleanup of {label} (the run was kept: {final if ok else 'none'})")
    summary["dir"] = str(final)
    return summary


def _wait_for_kill(run, sc, seen, kills0: int):
    """Until the victim is killed: the memcg's oom_kill counter (raised before the SIGKILL
    is sent), the victim's mark_victim in the trace, or the victim's death. Returns the
    monotonic time the kill was seen and the last THP sample, read from the memcg's
    memory.stat (never /proc/<pid>/smaps_rollup, whose mmap_lock would perturb the victim
    and the reaper's mmap_read_trylock)."""
    cg, wd, pid, victim = run.cg, run.wd, run.pid, run.victim
    thp_last = None
    deadline = time.monotonic() + wd.seconds
    nxt = 0.0
    while True:
        wd.check()
        if time.monotonic() > deadline:
            raise OomnbError("no OOM kill within the run's time bound")
        n = cg.oom_kill_count()
        if (n is not None and n > kills0) or seen.has(EV.MARK_VICTIM, pid):
            return mono(), thp_last
        if _exiting(pid) or seen.has(EV.SCHED_PROCESS_EXIT, pid, refresh=False):
            # exiting without an OOM kill (crashed); a kill would have raised the counter first
            time.sleep(0.2)
            if not ((cg.oom_kill_count() or 0) > kills0 or seen.has(EV.MARK_VICTIM, pid)):
                raise OomnbError(f"victim {pid} is exiting without an OOM kill (crashed?): {victim.stderr_tail()}")
            continue
        if not victim.alive():
            if seen.has(EV.MARK_VICTIM, pid) or (cg.oom_kill_count() or 0) > kills0:
                return mono(), thp_last
            raise OomnbError(f"victim exited (rc {victim.proc.returncode}) without an OOM kill: {victim.stderr_tail()}")
        sc.while_waiting(run)
        if time.monotonic() >= nxt:
            st = cg.stat()
            thp_last = (mono(), st.get("rss_huge", st.get("anon_thp")))
            nxt = time.monotonic() + 0.05
        time.sleep(0.005)


def _diagnose(pid: int, cg) -> str:
    """What the watchdog reports: where the collector is, the memcg, the victim's threads."""
    import traceback
    tasks = []
    for t in tids_of(pid):
        st = read_task(pid, t)
        if st:
            tasks.append(f"tid {t} state {st[0]} stack " + ",".join(ln.split("] ")[-1].split("+")[0] for ln in st[2].splitlines()[:6]))
    stat = cg.stat()
    main = sys._current_frames().get(threading.main_thread().ident)
    where = " <- ".join(f"{fs.name}:{fs.lineno}" for fs in reversed(traceback.extract_stack(main)[-4:])) if main else "?"
    return (f"collector at {where}; usage {_read_text(cg.usage_file)} oom_kill {cg.oom_kill_count()} "
            f"rss {stat.get('rss', stat.get('anon'))} cache {stat.get('cache', stat.get('file'))} "
            f"pgmajfault {stat.get('pgmajfault')}; " + "; ".join(tasks))


PF_EXITING = 0x00000004


def _exiting(pid: int) -> bool:
    """The task is in do_exit (PF_EXITING in /proc/<pid>/stat flags), or gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return True
    fields = st[st.rfind(")") + 2:].split()
    return bool(int(fields[6]) & PF_EXITING)  # field 9 of stat: flags


def _read_text(path: str):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def kill_anchor(trace: bytes, kmsg: bytes, pid: int) -> dict | None:
    """printk - trace offset from the kill anchor pair of the victim: ``Killed process PID``
    (kmsg usec) vs ``mark_victim: pid=PID`` (trace, mono). Only these two lines are looked
    at, read with the project's readers."""
    t = k = None
    for line in trace.decode(errors="replace").splitlines():
        r = ftrace.parse_line(line)
        if isinstance(r, tuple) and r[0] == EV.MARK_VICTIM and r[1].get("pid") == pid:
            t = float(r[1]["ts_text"])
            break
    for kind, f, p in _kmsg_rows(kmsg):
        if kind == EV.KILLED and f.get("pid") == pid and p.ts is not None:
            k = p.ts
            break
    if t is None or k is None:
        return None
    return {"mark_victim_trace_s": t, "killed_process_printk_s": k, "offset_s": k - t,
            "note": "printk 'Killed process' is logged after trace_mark_victim in __oom_kill_process, "
                    "so this is an upper bound of the offset (plus the printk work in between)"}


def frozen_exit_wait(victim, cg, inst, name: str, pid: int, tids: list[int], pre_kill: dict, opts: Options) -> float | None:
    """frozen-victim: give the killed victim ``opts.frozen_exit_wait`` s to exit from the frozen cgroup. Where the
    kernel thaws only the TIF_MEMDIE thread (before 6.18), a frozen sibling keeps the victim from exiting: record
    the threads as they are then (``pre_kill["exit_blocked_while_frozen"]``), thaw the cgroup and return the time."""
    try:
        victim.proc.wait(opts.frozen_exit_wait)
        return None
    except subprocess.TimeoutExpired:
        pass
    threads = {}
    for t in tids:
        st = read_task(pid, t)
        threads[str(t)] = {"state": st[0], "stack": st[2]} if st else None
    pre_kill["exit_blocked_while_frozen"] = {"after_kill_s": opts.frozen_exit_wait, "freezer_state": cg.frozen_state(),
                                             "threads": threads}
    inst.marker(f"oomnb: {name} phase=thaw reason=victim_not_exited_{opts.frozen_exit_wait:g}s_after_kill\n")
    cg.thaw()
    return mono()


def frozen_observation(stk: StackSampler, pid: int, tids: list[int], pre_kill: dict, killed: float) -> dict:
    """What the samplers saw of the frozen victim's threads around the kill."""
    out = {"threads_at_freeze": pre_kill.get("frozen", {}).get("threads"),
           "freezer_state_at_freeze": pre_kill.get("frozen", {}).get("freezer_state")}
    per = {}
    for tid in tids:
        st = stk.states.get(tid, [])
        before = [s for t, s in st if t < killed]
        after = [s for t, s in st if t >= killed]
        per[str(tid)] = {"last_state_before_kill_seen": before[-1] if before else None,
                         "states_after_kill": sorted(set(after)), "samples": len(st)}
    out["threads"] = per
    out["freezer_state_after_kill_seen"] = pre_kill.get("freezer_state_after_kill_seen")
    out["refrigerator_in_stacks"] = stk.seen("refrigerator") or stk.seen("do_freezer_trap")
    blocked = pre_kill.get("exit_blocked_while_frozen")
    out["exit_blocked_until_thaw"] = blocked is not None
    if blocked:
        out["threads_when_thawed"] = {t: (v or {}).get("state") for t, v in blocked["threads"].items()}
    out["note"] = ("6.18's mark_oom_victim -> thaw_process thaws the whole victim (every thread reaches sched_process_exit "
                   "while the freezer cgroup stays frozen); before 6.18 __thaw_task thaws only the TIF_MEMDIE thread and "
                   "a frozen sibling keeps the victim from exiting (exit_blocked_until_thaw)")
    return out
