"""Objects left by a collector that could not clean up (SIGKILL, power loss): find and remove them.

Every object a run creates is named ``oomnb-<collector pid>-...``: cgroups
below the collector's own cgroups, tracefs instances, ``/tmp`` backing files
and the loop devices on them. An object is stale when no process with that
pid exists. Removal follows the run's cleanup order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time

from .cgroups import LIFT_LINE, Layout, _read, _write, lift_line

_NAME = re.compile(r"^oomnb-(\d+)-")


def _alive_collector(pid: int) -> bool:
    # any live process with that pid counts (a reused pid only delays the removal; a live
    # collector started in some other way must never lose its objects)
    return os.path.exists(f"/proc/{pid}")


def find(layout: Layout | None, tracefs: str | None, tmpdir: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"cgroups": [], "instances": [], "backing": [], "loops": []}

    def stale(name: str) -> bool:
        m = _NAME.match(name)
        return bool(m) and int(m.group(1)) != os.getpid() and not _alive_collector(int(m.group(1)))
    if layout and layout.version:
        for ctrl in layout.mounts:
            base = layout.path(ctrl)
            try:
                names = os.listdir(base)
            except OSError:
                continue
            out["cgroups"] += [os.path.join(base, n) for n in sorted(names) if stale(n) and os.path.isdir(os.path.join(base, n))]
    if tracefs:
        inst = os.path.join(tracefs, "instances")
        try:
            out["instances"] = [os.path.join(inst, n) for n in sorted(os.listdir(inst)) if stale(n)]
        except OSError:
            pass
    tmp = tmpdir or tempfile.gettempdir()
    try:
        out["backing"] = [os.path.join(tmp, n) for n in sorted(os.listdir(tmp)) if n.endswith(".img") and stale(n)]
    except OSError:
        pass
    for b in out["backing"]:
        r = subprocess.run(["losetup", "-j", b], capture_output=True, text=True)
        out["loops"] += [ln.split(":", 1)[0] for ln in r.stdout.splitlines() if ln.strip()]
    return out


def _tasks(d: str) -> list[int]:
    pids = []
    for f in ("cgroup.procs", "tasks"):
        p = os.path.join(d, f)
        try:
            pids += [int(x) for x in _read(p).split()]
        except OSError:   # no such file, or the cgroup went meanwhile
            pass
    return sorted(set(pids))


def _attached(dev: str, backing_files: list[str]) -> bool:
    """Is ``dev`` still a loop device on one of the backing files?"""
    for b in backing_files:
        r = subprocess.run(["losetup", "-j", b], capture_output=True, text=True)
        if any(ln.split(":", 1)[0] == dev for ln in r.stdout.splitlines()):
            return True
    return False


def remove(found: dict[str, list[str]], log) -> bool:
    """Lift/thaw -> kill and wait for tasks -> rmdir cgroups -> detach loops -> rm files -> rmdir instances.

    An object already gone (removed meanwhile, e.g. by its own collector finishing
    late) counts as removed; only an object that stays is a failure."""
    ok = True
    dirs = []
    for c in found["cgroups"]:
        for root, ds, _ in os.walk(c, topdown=False):
            dirs.append(root)
    for d in dirs:
        for f, val in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if os.path.exists(os.path.join(d, f)):
                try:
                    _write(os.path.join(d, f), val)
                except OSError:
                    pass
        for f in LIFT_LINE:
            p = os.path.join(d, f)
            try:
                lines = _read(p).splitlines()
            except OSError:   # no such file, or the cgroup went meanwhile
                continue
            for line in lines:
                if line.split():
                    try:
                        _write(p, lift_line(p, line.split()[0]))
                    except OSError:
                        pass
    victims = sorted({t for d in dirs for t in _tasks(d)})
    for t in victims:
        try:
            os.kill(t, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while victims and time.monotonic() < deadline and any(os.path.exists(f"/proc/{t}") for t in victims):
        time.sleep(0.05)
    for d in dirs:
        for i in range(20):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if i == 19:
                    log(f"stale: could not remove {d}: {e.strerror}")
                    ok = False
                time.sleep(0.1)
        else:
            pass
        if not os.path.exists(d):
            log(f"stale: removed cgroup {d}")
    for dev in found["loops"]:
        r = subprocess.run(["losetup", "-d", dev], capture_output=True, text=True)
        if r.returncode == 0:
            log(f"stale: detached {dev}")
        elif not _attached(dev, found["backing"]):
            log(f"stale: {dev} already detached")
        else:
            log(f"stale: could not detach {dev}: {r.stderr.strip()}")
            ok = False
    for b in found["backing"]:
        try:
            os.unlink(b)
            log(f"stale: removed {b}")
        except FileNotFoundError:
            log(f"stale: {b} already gone")
        except OSError as e:
            log(f"stale: could not remove {b}: {e.strerror}")
            ok = False
    for inst in found["instances"]:
        try:
            os.rmdir(inst)
            log(f"stale: removed tracefs instance {inst}")
        except FileNotFoundError:
            log(f"stale: tracefs instance {inst} already gone")
        except OSError as e:
            log(f"stale: could not remove {inst}: {e.strerror}")
            ok = False
    return ok
