"""Interrupt ``oomnb collect`` at each phase (SIGINT / SIGTERM / a crashed victim): nothing is left.

Real runs (root, tracefs, memory + throttle controllers): marked integration,
skipped elsewhere with the reason. The collector runs as a subprocess whose
phase hook (OOMNB_COLLECT_PHASE_LOG / OOMNB_COLLECT_PHASE_PAUSE) logs each
phase and pauses in the one under test, where the test signals it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from collect_helpers import leftovers, real_machine_reason

pytestmark = pytest.mark.integration
REASON = real_machine_reason()
if REASON:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=f"needs a real collector machine: {REASON}")]

CASES = [
    # (scenario, phase to interrupt in, signal or "crash-victim", expected rc)
    ("aio-blocked", "setup", signal.SIGINT, 130),
    ("aio-blocked", "created", signal.SIGINT, 130),    # instance, loop device, cgroups exist; no victim yet
    ("aio-blocked", "ready", signal.SIGTERM, 130),      # AIO in flight on the throttled device
    ("fast-exit", "alloc", signal.SIGINT, 130),
    ("aio-blocked", "killed", signal.SIGTERM, 130),     # victim blocked in exit_aio
    ("dstate-thread", "reaping", signal.SIGINT, 130),
    ("frozen-victim", "alloc", signal.SIGTERM, 130),    # victim frozen, trigger running
    ("fast-exit", "collect", signal.SIGTERM, 130),
    ("fast-exit", "cleanup", signal.SIGINT, 130),       # deferred: cleanup completes, run kept
    ("aio-blocked", "ready", "crash-victim", 2),
    ("reaper-trylock-failure", "killed", signal.SIGTERM, 130),  # victim waits for its mmap_lock behind the helpers
    ("aio-blocked", "killed", "watchdog", 2),          # watchdog (1.5 s) fires while the victim is in exit_aio
]


@pytest.mark.parametrize("scenario,phase,sig,rc", CASES, ids=[f"{c[0]}-{c[1]}-{c[2] if isinstance(c[2], str) else c[2].name}" for c in CASES])
def test_interrupt_leaves_nothing(tmp_path, scenario, phase, sig, rc):
    log = tmp_path / "phases.log"
    out = tmp_path / "out"
    env = dict(os.environ, OOMNB_COLLECT_PHASE_LOG=str(log), OOMNB_COLLECT_PHASE_PAUSE=phase, OOMNB_COLLECT_PAUSE_S="2")
    p = subprocess.Popen([sys.executable, "-m", "oomnb", "collect", "--scenario", scenario, "--limit", "128M",
                          "--out", str(out), "--watchdog", "1.5" if sig == "watchdog" else "40"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        line = None
        while time.monotonic() < deadline and line is None:
            if log.exists():
                for ln in log.read_text().splitlines():
                    if ln.split()[0] == phase:
                        line = ln
            if p.poll() is not None:
                break
            time.sleep(0.02)
        assert line is not None, f"phase {phase} never reached: {p.communicate(timeout=30)}"
        time.sleep(0.3)
        if sig == "watchdog":
            pass
        elif sig == "crash-victim":
            pid = int(dict(kv.split("=") for kv in line.split()[1:])["pid"])
            os.kill(pid, signal.SIGSEGV)
        else:
            p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == rc, stderr
    assert "Traceback" not in stderr, stderr
    if sig == "watchdog":
        assert "watchdog: run exceeded 1.5 s" in stderr, stderr
    assert "cleanup: lift throttles" in stderr and "FAILED" not in stderr, stderr
    if phase not in ("setup", "cleanup"):
        assert "remove cgroups ok" in stderr and "remove trace instance ok" in stderr, stderr
    assert leftovers(str(p.pid)) == []
    runs = [d.name for d in out.iterdir() if d.is_dir()] if out.exists() else []
    if phase == "cleanup":
        assert runs == [f"{scenario}-128M-0"]  # the deferred signal let cleanup and the run complete
    else:
        assert runs == []  # no partial run left behind


def test_sigkilled_collector_leftovers_removed_by_next_run(tmp_path):
    """SIGKILL cannot be caught: the next collector finds the dead one's objects and removes them."""
    log = tmp_path / "phases.log"
    env = dict(os.environ, OOMNB_COLLECT_PHASE_LOG=str(log), OOMNB_COLLECT_PHASE_PAUSE="ready", OOMNB_COLLECT_PAUSE_S="5")
    p = subprocess.Popen([sys.executable, "-m", "oomnb", "collect", "--scenario", "aio-blocked", "--limit", "128M",
                          "--out", str(tmp_path / "a")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (log.exists() and "ready" in log.read_text()):
        time.sleep(0.02)
    p.kill()
    p.wait()
    left = leftovers(str(p.pid))
    assert left, "expected objects of the SIGKILLed collector"
    r = subprocess.run([sys.executable, "-m", "oomnb", "collect", "--scenario", "aio-blocked", "--limit", "128M",
                        "--out", str(tmp_path / "b"), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert f"stale (of a dead collector, would be removed first): " in r.stdout and f"oomnb-{p.pid}-" in r.stdout
    r = subprocess.run([sys.executable, "-m", "oomnb", "collect", "--scenario", "fast-exit", "--limit", "128M",
                        "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "removing" in r.stderr and "stale: removed cgroup" in r.stderr
    assert leftovers(str(p.pid)) == []
