"""Named laws: what the simulator draws each delay from.

Every :class:`oomnb.kernel.timing.Delay` names a law (``timer_slack``,
``reap_throughput``, ``aio_io``, ...).  A law here is a small picklable
object (so sweeps can ship it to other processes or a Dask cluster)
called as ``law(rng, n) -> array``; it is written as a **spec** string,
the same on the command line (``--law reap_throughput=const:8e9``) and in
code:

``const:X``            always X (sizes and rates take K/M/G suffixes)
``uniform:A,B``        uniform on [A, B)
``exp:MEAN``           exponential with that mean
``lognormal:MED,SIG``  log-normal with median MED and log-sd SIG
``never``              +inf: the step never happens (IO that never completes)
``data``               resample the values it was calibrated from
``bernoulli:P,SPEC``   with probability P drawn from SPEC, else 0
``wheel:J,LAG``        a J-jiffy timer's lateness: the timer wheel rounds
                       the expiry up to its level's granularity (uniform
                       phase), the softirq adds LAG seconds
``fit``                a throughput against RSS (calibrated only): each
                       draw takes one measured episode's machine fit
                       ``t = t0 + rss / B`` (Theil-Sen) plus that
                       episode's residual, at the simulated RSS

Defaults come from :func:`oomnb.calibrate.calibrate_data` (fitted on the
shipped traces) where the data say something, from :data:`DEFAULTS`
otherwise.  Units: seconds, bytes, bytes/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import OomnbError

_SUFFIX = {"k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}

# kernel/time/timer.c: LVL_CLK_SHIFT 3, LVL_BITS 6 (8 levels of 64 buckets)
LVL_CLK_SHIFT = 3
LVL_SIZE = 64


def wheel_granularity(jiffies: float) -> int:
    """Granularity in jiffies of the timer-wheel level a timer ``jiffies``
    ahead lands in (kernel/time/timer.c:calc_wheel_index: level n holds
    deltas below ``LVL_START(n+1) = 63 << 3n`` with granularity ``8**n``;
    the expiry is rounded up to it).  2*HZ at HZ=250 (500 jiffies) -> 8."""
    d = max(int(math.ceil(jiffies)), 0)
    lvl = 0
    while lvl < 7 and d >= (LVL_SIZE - 1) << (LVL_CLK_SHIFT * lvl):
        lvl += 1
    return 1 << (LVL_CLK_SHIFT * lvl)


def number(text: str) -> float:
    """``"1G"`` -> 2**30, ``"8e9"`` -> 8e9, ``"inf"``."""
    t = text.strip()
    if t and t[-1].lower() in _SUFFIX and t[:-1].replace(".", "", 1).replace("e", "", 1).lstrip("-").isdigit():
        return float(t[:-1]) * _SUFFIX[t[-1].lower()]
    if t.lower().endswith("ib") and t[-3:-2].lower() in _SUFFIX:
        return number(t[:-2])
    try:
        return float(t)
    except ValueError:
        raise OomnbError(f"not a number: {text!r}") from None


@dataclass(frozen=True)
class Law:
    """A named distribution; ``law(rng, n)`` draws ``n`` values."""

    spec: str
    kind: str
    args: tuple = ()
    values: tuple = ()          # the calibration samples ``data`` resamples
    hz: int = 250               # for ``wheel``

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k, a = self.kind, self.args
        if k == "const":
            return np.full(n, a[0], float)
        if k == "uniform":
            return rng.uniform(a[0], a[1], n)
        if k == "exp":
            return rng.exponential(a[0], n)
        if k == "lognormal":
            return a[0] * np.exp(a[1] * rng.standard_normal(n))
        if k == "never":
            return np.full(n, np.inf)
        if k == "data":
            return rng.choice(np.asarray(self.values, float), size=n)
        if k == "bernoulli":
            hit = rng.random(n) < a[0]
            return np.where(hit, a[1](rng, n), 0.0)
        if k == "wheel":
            gran = wheel_granularity(a[0]) / self.hz
            return rng.uniform(0.0, gran, n) + a[1]
        if k == "fit":            # without sizes: the throughputs of the measured episodes
            v = np.asarray(self.values, float).reshape(-1, 4)
            return rng.choice(v[:, 3] / np.maximum(v[:, 0] + v[:, 3] / v[:, 1] + v[:, 2], 1e-9),
                              size=n)
        raise AssertionError(k)   # pragma: no cover - parse() admits only the kinds above

    def durations(self, rng: np.random.Generator, sizes) -> np.ndarray:
        """``fit`` laws: seconds to unmap ``sizes`` bytes (``t0 + size / B +
        residual`` of a resampled episode, at least 0)."""
        v = np.asarray(self.values, float).reshape(-1, 4)   # t0, B, residual, measured rss
        i = rng.integers(0, len(v), size=len(sizes))
        return np.maximum(v[i, 0] + np.asarray(sizes, float) / v[i, 1] + v[i, 2], 0.0)

    def median(self) -> float:
        """A typical value (for bounds and tables)."""
        return float(np.median(self(np.random.default_rng(0), 4001)))

    def with_jiffies(self, j: float, hz: int) -> "Law":
        """The ``wheel`` law for a timer of ``j`` jiffies (other laws as they are)."""
        if self.kind != "wheel":
            return self
        return Law(f"wheel:{j:g},{self.args[1]:g}", "wheel", (j, self.args[1]), hz=hz)

    def __str__(self):
        return self.spec


def parse(spec: str, *, values=(), name: str = "law") -> Law:
    """A law from its spec string (``--law NAME=SPEC``); ``values`` are the
    calibration samples ``data`` resamples."""
    s = spec.strip()
    kind, _, rest = s.partition(":")
    kind = kind.lower()
    args = [x for x in rest.split(",")] if rest else []
    try:
        if kind == "never" and not args:
            return Law(s, "never")
        if kind == "fit" and not args:
            vals = tuple(float(v) for v in values)
            if not vals or len(vals) % 4:
                raise OomnbError(f"{name}: 'fit' needs calibrated (t0, B, residual, rss) rows")
            return Law(s, "fit", values=vals)
        if kind == "data" and not args:
            vals = tuple(float(v) for v in values if np.isfinite(v))
            if not vals:
                raise OomnbError(f"{name}: no calibration data to resample ('data')")
            return Law(s, "data", values=vals)
        if kind == "const" and len(args) == 1:
            return Law(s, "const", (number(args[0]),))
        if kind == "uniform" and len(args) == 2:
            a, b = number(args[0]), number(args[1])
            if not a <= b:
                raise OomnbError(f"{name}: uniform:A,B needs A <= B")
            return Law(s, "uniform", (a, b))
        if kind == "exp" and len(args) == 1:
            return Law(s, "exp", (number(args[0]),))
        if kind == "lognormal" and len(args) == 2:
            return Law(s, "lognormal", (number(args[0]), number(args[1])))
        if kind == "wheel" and len(args) == 2:
            return Law(s, "wheel", (number(args[0]), number(args[1])))
        if kind == "bernoulli" and len(args) >= 2:
            p = number(args[0])
            if not 0 <= p <= 1:
                raise OomnbError(f"{name}: bernoulli probability {p} is not in [0, 1]")
            inner = parse(",".join(args[1:]), values=values, name=name)
            return Law(s, "bernoulli", (p, inner))
    except OomnbError:
        raise
    raise OomnbError(f"{name}: cannot read law {spec!r} (const:X, uniform:A,B, exp:MEAN, "
                     "lognormal:MED,SIG, never, data, fit, bernoulli:P,SPEC, wheel:J,LAG)")


#: every law a Delay may name, with its default spec and what it is.  ``data``
#: defaults are replaced by the calibration's samples (oomnb.calibrate).
DEFAULTS = {
    "timer_slack": ("wheel:500,0.004", "a timer's lateness past its expiry: timer-wheel "
                    "granularity (uniform phase) plus softirq lag, s"),
    "reap_attempt": ("data", "from the reaper's wake-up to its reap start: the kthread runs, "
                     "takes the mmap lock and passes the gates, s"),
    "cpu": ("data", "a short kernel step (the scale of one reaper attempt), s"),
    "signal_latency": ("data", "SIGKILL -> do_exit: the victim is scheduled and dequeues "
                       "the signal (kill -> sched_process_exit), s"),
    "reap_throughput": ("fit", "bytes/s the oom_reaper unmaps: reap duration against "
                        "anonymous RSS"),
    "exit_throughput": ("fit", "bytes/s exit_mmap unmaps: exit_start -> free against "
                        "anonymous RSS"),
    "rss_anon": ("const:1G", "the victim's anonymous RSS at the kill, bytes"),
    "aio_io": ("data", "start -> completion of the victim's in-flight AIO, s"),
    "dstate_io": ("data", "start -> completion of the D-state thread's IO, s"),
    "lock_hold": ("data", "how long another task holds the victim's mmap lock, s"),
    "suspend_start": ("uniform:0,3", "start -> freeze_processes(), s"),
    "suspended": ("const:5", "how long the machine stays suspended, s"),
    "victim_alloc": ("exp:0.01", "a killed thread allocates again (victim-oom), s"),
}

#: the law each calibrated parameter feeds (oomnb.calibrate Param name -> law)
FROM_PARAM = {"t_slack": "timer_slack", "t_attempt": "reap_attempt", "t_cpu": "cpu",
              "t_signal": "signal_latency", "B_reap": "reap_throughput",
              "B_exit": "exit_throughput", "T_io": "aio_io", "T_dstate": "dstate_io",
              "T_lock": "lock_hold"}


def resolve(overrides=None, calibration=None, machine: str = "all", *, hz: int = 250) -> dict:
    """``{law name: Law}``: the defaults, the calibration's fitted laws for
    ``machine``, then ``overrides`` (``{name: spec}``) on top.  Unknown
    names and unreadable specs raise :class:`OomnbError`."""
    overrides = dict(overrides or {})
    bad = sorted(set(overrides) - set(DEFAULTS))
    if bad:
        raise OomnbError(f"unknown law {bad[0]!r} (known: {', '.join(DEFAULTS)})")
    fitted = calibration.law_specs(machine) if calibration is not None else {}
    out = {}
    for name, (spec, _) in DEFAULTS.items():
        values = fitted.get(name, ("", ()))[1]
        base = fitted.get(name, (spec, ()))[0] if name in fitted else spec
        if base in ("data", "fit") and not values:
            base = {"cpu": "const:5e-5", "reap_attempt": "const:5e-5",
                    "signal_latency": "const:0.004", "reap_throughput": "const:1e10",
                    "exit_throughput": "const:1e10", "aio_io": "never", "dstate_io": "never",
                    "lock_hold": "never"}[name]
        out[name] = parse(overrides.get(name, base), values=values, name=name)
        if out[name].kind == "wheel":
            out[name] = Law(out[name].spec, "wheel", out[name].args, hz=hz)
    return out


def parse_overrides(items) -> dict:
    """``["reap_throughput=const:8e9", ...]`` -> ``{name: spec}``."""
    out = {}
    for it in items or ():
        name, eq, spec = it.partition("=")
        if not eq or not name.strip() or not spec.strip():
            raise OomnbError(f"--law takes NAME=SPEC, got {it!r}")
        out[name.strip()] = spec.strip()
    return out


__all__ = ["Law", "parse", "resolve", "parse_overrides", "DEFAULTS", "FROM_PARAM",
           "wheel_granularity", "number"]
