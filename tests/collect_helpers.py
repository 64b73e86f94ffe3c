"""Shared helpers of the collector tests (not a test module)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess


#: environment variable that opts in to the real-kernel tests (real OOM kills)
OPT_IN = "OOMNB_REAL_KERNEL_TESTS"


def opted_in() -> bool:
    return os.environ.get(OPT_IN, "") not in ("", "0")


def real_machine_reason() -> str | None:
    """None when a real collector run is possible here (and opted in), else why not."""
    if not opted_in():
        return f"real-kernel tests are opt-in: set {OPT_IN}=1"
    if os.geteuid() != 0:
        return "not root"
    from oomnb.collect.runner import preflight
    env = preflight(["aio-blocked"], [128 << 20])
    if env.problems:
        return "; ".join(env.problems)
    return None


def leftovers(tag: str) -> list[str]:
    """Everything named like ``oomnb-<tag>`` left in cgroups, tracefs, loop devices, /tmp."""
    out = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d.startswith(f"oomnb-{tag}"):
                out.append(os.path.join(root, d))
    for base in ("/sys/kernel/tracing/instances", "/sys/kernel/debug/tracing/instances"):
        if os.path.isdir(base):
            out += [os.path.join(base, n) for n in os.listdir(base) if n.startswith(f"oomnb-{tag}")]
    if shutil.which("losetup"):
        r = subprocess.run(["losetup", "-a"], capture_output=True, text=True)
        out += [l for l in r.stdout.splitlines() if f"oomnb-{tag}" in l]
    out += glob.glob(f"/tmp/oomnb-{tag}*.img")
    return out
