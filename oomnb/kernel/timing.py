"""What decides how long a step takes: the delay class of each transition.

The model's steps are untimed; every transition declares a
:class:`Delay`, which says what its duration depends on:

``timer``    a fixed kernel timer, in jiffies (``OOM_REAPER_DELAY``,
             the reaper's ``HZ/10`` retry sleep, ``freeze_timeout_msecs``)
``io``       completion of IO (unbounded unless the scenario bounds it)
``unmap``    unmapping proportional to the victim's RSS, by the
             oom_reaper or by the victim's own ``exit_mmap``
``lock``     how long another holder keeps a lock
``cpu``      a short CPU step (scheduling latency, a few locks)
``env``      the environment chooses when (suspend starts, a thread
             allocates): no duration of its own

A :class:`Delay` has a **symbolic form** (:meth:`Delay.expr`, a sympy
expression in seconds over symbols named after the kernel's constants)
for the bounds, and a **numeric sampler** (:meth:`Delay.sample`) for the
simulator; both read the kernel's time data (``Kernel.hz``,
``reaper_delay``, ...), so one declaration serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

# --- symbols (units in the comments; every expression is in seconds) -------
HZ = sp.Symbol("HZ", positive=True)                          # jiffies per second
MAX_OOM_REAP_RETRIES = sp.Symbol("MAX_OOM_REAP_RETRIES", positive=True, integer=True)
OOM_REAPER_DELAY = sp.Symbol("OOM_REAPER_DELAY", nonnegative=True)   # jiffies
freeze_timeout_msecs = sp.Symbol("freeze_timeout_msecs", positive=True)  # ms
rss = sp.Symbol("rss_anon", nonnegative=True)                # bytes of anonymous memory
B_reap = sp.Symbol("B_reap", positive=True)                  # bytes/s unmapped by the reaper
B_exit = sp.Symbol("B_exit", positive=True)                  # bytes/s unmapped by exit_mmap
T_io = sp.Symbol("T_io", nonnegative=True)                   # s until in-flight AIO completes
T_dstate = sp.Symbol("T_dstate", nonnegative=True)           # s of a thread's D-state IO
T_lock = sp.Symbol("T_lock", nonnegative=True)               # s another task holds mmap_lock
t_cpu = sp.Symbol("t_cpu", nonnegative=True)                 # s of a short CPU step
t_attempt = sp.Symbol("t_attempt", nonnegative=True)         # s of one reap attempt (trylock)
t_slack = sp.Symbol("t_slack", nonnegative=True)             # s a timer fires late (wheel + softirq)

SYMBOLS = {s.name: s for s in (HZ, MAX_OOM_REAP_RETRIES, OOM_REAPER_DELAY, freeze_timeout_msecs,
                               rss, B_reap, B_exit, T_io, T_dstate, T_lock, t_cpu, t_attempt,
                               t_slack)}
UNITS = {"HZ": "1/s", "MAX_OOM_REAP_RETRIES": "1", "OOM_REAPER_DELAY": "jiffies",
         "freeze_timeout_msecs": "ms", "rss_anon": "bytes", "B_reap": "bytes/s",
         "B_exit": "bytes/s", "T_io": "s", "T_dstate": "s", "T_lock": "s", "t_cpu": "s",
         "t_attempt": "s", "t_slack": "s"}


def jiffies(k, text: str) -> sp.Expr:
    """A kernel's jiffies expression (``"2*HZ"``, ``"HZ/10"``) as sympy, in jiffies."""
    return sp.sympify(text, locals={"HZ": HZ})


def kernel_values(k) -> dict:
    """Numbers for the kernel constants of ``k`` (symbol -> value)."""
    return {HZ: k.hz, MAX_OOM_REAP_RETRIES: k.max_reap_retries,
            OOM_REAPER_DELAY: jiffies(k, k.reaper_delay).subs(HZ, k.hz),
            freeze_timeout_msecs: k.freeze_timeout_msecs}


@dataclass(frozen=True)
class Delay:
    cls: str                 # timer | io | unmap | lock | cpu | env
    name: str                # what it is: "OOM_REAPER_DELAY", "exit_aio IO", ...
    law: str                 # the simulator's law for the random part
    jiffies_attr: str = ""   # timer: the Kernel field holding its jiffies expression
    msecs_attr: str = ""     # timer: the Kernel field holding milliseconds

    def timer_jiffies(self, k) -> sp.Expr:
        """The timer's length in jiffies as a sympy expression in ``HZ``
        with the version's constants (``OOM_REAPER_DELAY`` stays a symbol
        in :meth:`expr`)."""
        if self.jiffies_attr:
            return jiffies(k, getattr(k, self.jiffies_attr))
        if self.msecs_attr:
            return freeze_timeout_msecs * HZ / 1000
        return sp.Integer(0)

    def expr(self, k) -> sp.Expr:
        """Symbolic duration in seconds (upper bound for timers: expiry
        plus slack)."""
        if self.cls == "timer":
            if self.jiffies_attr == "reaper_delay":
                j = OOM_REAPER_DELAY if jiffies(k, k.reaper_delay) != 0 else sp.Integer(0)
            else:
                j = self.timer_jiffies(k)
            return j / HZ + t_slack
        if self.cls == "io":
            return T_dstate if self.law == "dstate_io" else T_io
        if self.cls == "unmap":
            return rss / (B_reap if self.law == "reap_throughput" else B_exit)
        if self.cls == "lock":
            return T_lock
        if self.cls == "cpu":
            return t_attempt if self.law == "reap_attempt" else t_cpu
        return sp.Integer(0)          # env: chosen, not waited for

    def value(self, k, params: dict) -> float:
        """``expr`` evaluated with the kernel's constants and ``params``
        (symbol name -> number; missing ones count as 0, ``inf`` allowed)."""
        subs = dict(kernel_values(k))
        for name, v in params.items():
            if name in SYMBOLS:
                subs[SYMBOLS[name]] = v
        e = self.expr(k).subs(subs)
        e = e.subs({s: 0 for s in e.free_symbols})
        return float(e)

    def sample(self, k, rng: np.random.Generator, n: int, laws) -> np.ndarray:
        """``n`` durations in seconds drawn with ``laws`` (name -> callable
        ``(rng, n) -> array``; unmap laws give bytes/s and need
        ``laws["rss_anon"]``)."""
        if self.cls == "timer":
            j = float(self.timer_jiffies(k).subs(HZ, k.hz))
            base = np.full(n, j / k.hz)
            return base + laws["timer_slack"](rng, n) if "timer_slack" in laws else base
        if self.cls == "unmap":
            size = laws["rss_anon"](rng, n)
            return size / laws[self.law](rng, n)
        if self.cls == "env":
            return laws[self.law](rng, n) if self.law in laws else np.zeros(n)
        return laws[self.law](rng, n)


def TIMER(name, *, jiffies_attr="", msecs_attr="") -> Delay:
    return Delay("timer", name, "timer_slack", jiffies_attr=jiffies_attr, msecs_attr=msecs_attr)


OOM_REAPER_DELAY_TIMER = TIMER("OOM_REAPER_DELAY", jiffies_attr="reaper_delay")
REAP_RETRY_SLEEP = TIMER("schedule_timeout_idle(HZ/10)", jiffies_attr="reap_retry_sleep")
FREEZE_TIMEOUT = TIMER("freeze_timeout_msecs", msecs_attr="freeze_timeout_msecs")
ALLOC_RETRY = TIMER("schedule_timeout_uninterruptible(1)", jiffies_attr="alloc_retry_sleep")
AIO_IO = Delay("io", "in-flight AIO completes", "aio_io")
DSTATE_IO = Delay("io", "D-state IO completes", "dstate_io")
REAP_UNMAP = Delay("unmap", "__oom_reap_task_mm unmaps the anonymous RSS", "reap_throughput")
EXIT_UNMAP = Delay("unmap", "exit_mmap unmap_vmas of the RSS", "exit_throughput")
MMAP_LOCK_HOLD = Delay("lock", "another task holds mmap_lock for write", "lock_hold")
CPU = Delay("cpu", "CPU step (scheduling latency)", "cpu")
REAP_ATTEMPT = Delay("cpu", "one oom_reap_task_mm attempt (trylock and gates)", "reap_attempt")
SIGKILL_DELIVERY = Delay("cpu", "SIGKILL delivery: the victim is scheduled and dequeues it",
                         "signal_latency")
SUSPEND_START = Delay("env", "suspend starts", "suspend_start")
SUSPENDED = Delay("env", "time spent suspended", "suspended")
VICTIM_ALLOCATES = Delay("env", "a killed thread allocates", "victim_alloc")

DELAYS = {d.name: d for d in (OOM_REAPER_DELAY_TIMER, REAP_RETRY_SLEEP, FREEZE_TIMEOUT, ALLOC_RETRY,
                              AIO_IO, DSTATE_IO, REAP_UNMAP, EXIT_UNMAP, MMAP_LOCK_HOLD, CPU,
                              REAP_ATTEMPT, SIGKILL_DELIVERY, SUSPEND_START, SUSPENDED, VICTIM_ALLOCATES)}
