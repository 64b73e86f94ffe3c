"""Timing, reported apart from the order: observed gaps against delay classes.

Each check takes two observed events whose gap one delay class of the
version decides (:mod:`oomnb.kernel.timing`) and asks whether the gap
lies in what that class allows, with the calibrated timer lateness
(:mod:`oomnb.calibrate`):

``kill -> reaper_wake``
    versions with ``OOM_REAPER_DELAY`` (``queue_oom_reaper`` arms a
    timer, v5.18+): the timer's length plus its lateness; versions that
    queue the victim inside ``oom_kill_process`` (v4.8, v4.9): a short
    CPU step, so a 2 s gap has no explanation there.
``reaper_wake -> first attempt``
    the reaper kthread wakes and tries the lock: a short CPU step.
``attempt -> next attempt``
    ``schedule_timeout_idle(HZ/10)`` between attempts, plus lateness.

A short CPU step is at most :data:`CPU_MAX_S`, far above every measured
wake -> attempt latency (``t_attempt``) yet far below the timers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import events as ev
from ..kernel import timing as kt
from ..kernel.versions import load_kernel
from .observed import IN_EXIT_AIO

CPU_MAX_S = 0.1          # 25 jiffies at HZ=250
ATTEMPTS = (ev.REAP_START, ev.REAP_SKIP)


@dataclass(frozen=True)
class Check:
    name: str
    gap: float
    lo: float
    hi: float
    delay: str           # what decides it in this version

    @property
    def ok(self) -> bool:
        return self.lo <= self.gap <= self.hi

    def __str__(self):
        hi = "inf" if math.isinf(self.hi) else f"{self.hi:.3f}"
        return (f"{self.name}: {self.gap:.3f} s, {self.delay} allows "
                f"[{self.lo:.3f}, {hi}] s: {'ok' if self.ok else 'IMPOSSIBLE'}")


def slack_max(cal=None, machine: str = "all") -> float:
    """The largest timer lateness the calibration saw (two jiffies if none)."""
    two = 2 / 250
    if cal is None:
        return two
    p = cal.get("t_slack", machine) or cal.get("t_slack", "all")
    if p is None or not p.samples:
        return two
    return max(two, max(p.samples) + two, p.hi + two if math.isfinite(p.hi) else two)


def _seconds(k, text: str) -> float:
    return float(kt.jiffies(k, text).subs(kt.HZ, k.hz)) / k.hz


def checks(episode, version, cal=None) -> list:
    """The timing checks the episode's events allow in ``version``."""
    k = load_kernel(version) if isinstance(version, str) else version
    if not k.has_reaper:
        return []
    obs = [o for o in episode.events if not math.isnan(o.t) and o.what != IN_EXIT_AIO]
    slack = slack_max(cal, episode.machine)
    jiffy = 1 / k.hz
    out = []
    kill = next((o for o in obs if o.what == ev.KILL), None)
    wake = next((o for o in obs if o.what == ev.REAPER_WAKE), None)
    if kill and wake and wake.pid == kill.pid and wake.t >= kill.t:
        d = _seconds(k, k.reaper_delay)
        if d > 0:
            out.append(Check("kill -> reaper_wake", wake.t - kill.t, d - jiffy, d + slack,
                             f"OOM_REAPER_DELAY ({k.reaper_delay}) timer"))
        else:
            out.append(Check("kill -> reaper_wake", wake.t - kill.t, 0.0, CPU_MAX_S,
                             "wake_oom_reaper inside oom_kill_process (CPU step)"))
    if wake:
        first = next((o for o in obs if o.what in ATTEMPTS and o.t >= wake.t), None)
        if first:
            out.append(Check("reaper_wake -> first attempt", first.t - wake.t, 0.0, CPU_MAX_S,
                             "oom_reaper kthread wakes (CPU step)"))
    att = [o for o in obs if o.what in ATTEMPTS]
    sleep = _seconds(k, k.reap_retry_sleep)
    for a, b in zip(att, att[1:]):
        if a.what == ev.REAP_SKIP:
            out.append(Check("attempt -> next attempt", b.t - a.t, sleep - jiffy,
                             sleep + slack + CPU_MAX_S,
                             f"schedule_timeout_idle({k.reap_retry_sleep})"))
    return out
