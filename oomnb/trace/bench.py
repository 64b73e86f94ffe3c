"""``oomnb bench parse``: reader throughput against ``grep`` on a generated trace.

Generates a realistic tracefs text file (mostly unrelated scheduler, irq,
timer and allocator events of a dozen tasks, in time order; short-lived
processes exiting and being freed every ~1000 lines, as with the
``sched_process_exit``/``_free`` events the OOM captures enable; an OOM
episode now and then: SIGKILL, mark_victim, exit, wake_reaper, reap, free),
after
checking free disk space; then times ``grep -cE 'oom|reap|Killed process'``
and ``oomnb episodes`` on it, as a user runs them (each its own process,
output to a file, page cache warm), and reports MB/s, the ratio to grep, the
start-up cost (the same command on the file's first 64 KiB) and the peak
memory. Speed targets are measured here, never asserted in tests.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import events as EV
from ..errors import OomnbError

GREP_PATTERN = "oom|reap|Killed process"

_TASKS = [("kworker/0:1", 31), ("kworker/1:2", 88), ("rcu_preempt", 15), ("ksoftirqd/0", 14),
          ("ksoftirqd/1", 22), ("systemd-journal", 301), ("sshd", 1201), ("bash", 1447), ("python3", 2044),
          ("postgres", 3100), ("java", 4242), ("nginx", 5150), ("containerd", 777), ("kswapd0", 60)]
_UNRELATED = [
    "{t}-{p:<7d} [{c:03d}] d..2. {ts}: sched_switch: prev_comm={t} prev_pid={p} prev_prio=120 prev_state=S ==> next_comm={t2} next_pid={p2} next_prio=120\n",
    "{t}-{p:<7d} [{c:03d}] dN.4. {ts}: sched_wakeup: comm={t2} pid={p2} prio=120 target_cpu={c:03d}\n",
    "{t}-{p:<7d} [{c:03d}] d.h1. {ts}: irq_handler_entry: irq=24 name=virtio0-input.0\n",
    "{t}-{p:<7d} [{c:03d}] d.h1. {ts}: irq_handler_exit: irq=24 ret=handled\n",
    "{t}-{p:<7d} [{c:03d}] ..s1. {ts}: softirq_entry: vec=1 [action=TIMER]\n",
    "{t}-{p:<7d} [{c:03d}] ..s1. {ts}: timer_expire_entry: timer=00000000a1b2c3d4 function=process_timeout now=4295{p2} baseclk=4295{p2}\n",
    "{t}-{p:<7d} [{c:03d}] ..... {ts}: kmem_cache_alloc: call_site=__alloc_skb+0x4e/0x1e0 ptr=00000000deadbeef bytes_req=256 bytes_alloc=256 gfp_flags=GFP_KERNEL node=-1 accounted=false\n",
    "{t}-{p:<7d} [{c:03d}] ..... {ts}: sched_stat_runtime: comm={t} pid={p} runtime=21337 [ns]\n",
]


def parse_size(s: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*", s)
    if not m:
        raise OomnbError(f"bad size {s!r} (e.g. 256M, 1G)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m[2].lower()]
    return int(float(m[1]) * mult)


#: LTP's OOM tests (oom01..oom05) and the reaper thread: task names that look like OOM evidence
_LTP_TASKS = [("oom01", 9101), ("oom02", 9102), ("oom03", 9103), ("oom04", 9104), ("oom05", 9105),
              ("oom_reaper", 33)]


def generate(path: Path, size: int, *, seed: int = 1, oom_every: int = 200_000, ltp: bool = False) -> int:
    """Write ~``size`` bytes of trace text; return the number of OOM episodes in it.
    ``ltp``: half the tasks the unrelated events name are LTP's ``oom01``..``oom05``
    and ``oom_reaper``."""
    rnd = random.Random(seed)
    tasks = _TASKS + (_LTP_TASKS * 3 if ltp else [])
    pool = []
    for i in range(4096):
        t, p = rnd.choice(tasks)
        t2, p2 = rnd.choice(tasks)
        pool.append(rnd.choice(_UNRELATED).format(t=t.rjust(16), p=p, c=rnd.randrange(2), ts="{ts}", t2=t2, p2=p2))
    pool = [x.replace("{ts}", "%s") for x in pool]
    written = 0
    ts = 1000.0
    victims = 0
    pid = 40000
    with open(path, "w") as f:
        f.write("# tracer: nop\n#\n# entries-in-buffer/entries-written: 0/0   #P:2\n#\n")
        n = 0
        while written < size:
            block = []
            for _ in range(20000):
                ts += rnd.random() * 2e-5
                block.append(pool[n % 4096] % f"{ts:12.6f}")
                n += 1
                if n % 997 == 0:   # short-lived processes come and go (exit and free are traced)
                    q = 50000 + (n // 997) % 30000
                    block.append(f"            bash-{q:<7d} [000] ..... {ts:12.6f}: {EV.SCHED_PROCESS_EXIT}: "
                                 f"comm=bash pid={q} prio=120 group_dead=true\n")
                    block.append(f"          <idle>-0       [001] ..s1. {ts + 1e-6:12.6f}: {EV.SCHED_PROCESS_FREE}: "
                                 f"comm=bash pid={q} prio=120\n")
                if n % oom_every == 0:
                    pid += 7
                    victims += 1
                    k = ts
                    block += [
                        f"         python3-{pid:<7d} [001] d..2. {k:12.6f}: {EV.SIGNAL_GENERATE}: sig=9 errno=0 code=128 comm=python3 pid={pid} grp=1 res=0\n",
                        f"         python3-{pid:<7d} [001] ...1. {k + 4e-6:12.6f}: {EV.MARK_VICTIM}: pid={pid} comm=python3 total-vm=1066304kB anon-rss=1045860kB file-rss:6816kB shmem-rss:128kB uid=0 pgtables=2104kB oom_score_adj=0\n",
                        f"         python3-{pid:<7d} [001] ..... {k + 5e-3:12.6f}: {EV.SCHED_PROCESS_EXIT}: comm=python3 pid={pid} prio=120 group_dead=true\n"]
                    ts += 0.01
                    pending = [f"          <idle>-0       [000] ..s1. %s: {EV.WAKE_REAPER}: pid={pid}\n",
                               f"      oom_reaper-33      [000] ..... %s: {EV.START_TASK_REAPING}: pid={pid}\n",
                               f"      oom_reaper-33      [000] ..... %s: {EV.FINISH_TASK_REAPING}: pid={pid}\n",
                               f"          <idle>-0       [000] ..s1. %s: {EV.SCHED_PROCESS_FREE}: comm=python3 pid={pid} prio=120\n"]
                    for j, line in enumerate(pending):
                        ts += 0.002 * (j + 1)
                        block.append(line % f"{ts:12.6f}")
            s = "".join(block)
            f.write(s)
            written += len(s)
    return victims


#: a small process that runs each timed command: a command forked from this (large)
#: process would count this process's memory in its own peak RSS (Linux keeps the
#: high-water mark of the memory it replaced at exec)
_LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    cmd, out_path = json.loads(line)
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        t = time.perf_counter() - t0
    print(json.dumps([t, os.waitstatus_to_exitcode(status), err.decode(errors="replace"), ru.ru_maxrss]), flush=True)
"""


class _Launcher:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def timed(self, cmd, out_path):
        """Run ``cmd`` with its stdout written to ``out_path``; (seconds, stderr, peak RSS in kB)."""
        import json
        self.p.stdin.write(json.dumps([cmd, str(out_path)]) + "\n")
        self.p.stdin.flush()
        t, rc, err, maxrss = json.loads(self.p.stdout.readline())
        if rc not in (0, 1):
            raise OomnbError(f"{cmd[0]} failed: {err.strip()[:200]}")
        return t, err, maxrss

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def _oomnb_cmd(path, prefilter):
    """``oomnb episodes`` as a user runs it (its own interpreter, the whole process)."""
    return [sys.executable, "-m", "oomnb", "episodes", "--trace-clock", "mono", "--prefilter", prefilter, str(path)]


_SUMMARY = re.compile(r"^(\d+) episodes, \d+ victim pids: (.*)$", re.M)


def add_arguments(parser) -> None:
    parser.add_argument("--size", default="256M", help="size of the generated file (default 256M; the target is "
                        "stated for 1G)")
    parser.add_argument("--dir", default=None, help="where to write it (default: the temp directory)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--prefilter", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--ltp", action="store_true",
                        help="half the scheduler lines name LTP's OOM test processes (oom01..oom05) and "
                             "oom_reaper, as in a trace taken while LTP's oom tests run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; the minimum is reported")


def run(args) -> int:
    size = parse_size(args.size)
    d = Path(args.dir or tempfile.gettempdir())
    if not d.is_dir():
        raise OomnbError("not a directory", path=str(d))
    free = shutil.disk_usage(d).free
    need = size + (256 << 20)
    if free < need:
        raise OomnbError(f"not enough free disk: {free >> 20} MiB free, {need >> 20} MiB needed", path=str(d))
    if not shutil.which("grep"):
        raise OomnbError("grep not found (the comparison needs it)")
    path = d / f"oomnb-bench-{os.getpid()}.trace"
    launcher = None
    try:
        t0 = time.perf_counter()
        victims = generate(path, size, ltp=args.ltp)
        gen_s = time.perf_counter() - t0
        real = path.stat().st_size
        mb = real / 1e6
        print(f"generated {path} ({mb:.0f} MB, {victims} OOM episodes"
              + (", scheduler lines naming oom01..oom05 and oom_reaper" if args.ltp else "")
              + f") in {gen_s:.1f} s")
        out = d / f"oomnb-bench-{os.getpid()}.out"
        tiny = d / f"oomnb-bench-{os.getpid()}-tiny.trace"
        with open(path, "rb") as f, open(tiny, "wb") as t:
            t.write(f.read(1 << 16).rsplit(b"\n", 1)[0] + b"\n")   # the fixed cost: start-up, imports
        grep = ["grep", "-cE", GREP_PATTERN, str(path)]
        launcher = _Launcher()
        _timed = launcher.timed
        _timed(grep, out)          # warm the page cache
        gs, ts, fixed, rss = [], [], [], []
        for _ in range(args.repeat):   # interleaved, so that other load hits both alike; min of each
            gs.append(_timed(grep, out)[0])
            fixed.append(_timed(_oomnb_cmd(tiny, args.prefilter), out)[0])
            t_, _, rss_ = _timed(_oomnb_cmd(path, args.prefilter), out)
            ts.append(t_)
            rss.append(rss_)
        text = out.read_text()
        m = _SUMMARY.search(text)
        n_ep = int(m[1]) if m else 0
        outcomes = dict(x.rsplit(" ", 1) for x in m[2].split(", ")) if m else {}
        n_reaped = int(outcomes.get("reaped", 0))
        g, t, f0 = min(gs), min(ts), min(fixed)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"grep -cE '{GREP_PATTERN}' > file: {g:.2f} s, {mb / g:.0f} MB/s (min of {len(gs)}: "
              + ", ".join(f"{x:.2f}" for x in gs) + ")")
        print(f"oomnb episodes > file:        {t:.2f} s, {mb / t:.0f} MB/s ({n_ep} episodes, {n_reaped} reaped), "
              f"peak RSS {max(rss) / 1024:.0f} MB (min of " + ", ".join(f"{x:.2f}" for x in ts) + ")")
        print(f"  of which start-up (the same command on a 64 KiB head of the file) {f0:.2f} s")
        print(f"ratio to grep: {t / g:.2f}x whole process, {(t - f0) / g:.2f}x without start-up "
              f"(target <= 3x; peak memory target < 500 MB); load average {load:.2f} "
              f"on {os.cpu_count()} CPUs")
        if n_ep != victims or n_reaped != victims:
            print(f"warning: expected {victims} reaped episodes, got {n_ep} ({n_reaped} reaped)", file=sys.stderr)
            return 1
        return 0
    finally:
        if launcher is not None:
            launcher.close()
        for p in (d / f"oomnb-bench-{os.getpid()}.out", d / f"oomnb-bench-{os.getpid()}-tiny.trace"):
            if p.exists():
                p.unlink()
        if not args.keep and path.exists():
            path.unlink()
