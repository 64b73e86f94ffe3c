"""The guest side of ``oomnb collect --kernel-image``: runs inside the QEMU guest as root.

``python -m oomnb.collect.qemu_guest --cgroup 1|2 --facts FILE [--kernel-config F] -- COLLECT-ARGS``

1. loads the loop and virtio_blk modules (Debian kernels have them as modules);
2. sets up the cgroup hierarchy asked for and checks which one the guest really
   has: v2 is what virtme-ng's init mounts at /sys/fs/cgroup; for v1 it replaces
   that mount by a tmpfs with the ``memory``, ``blkio`` and ``freezer`` v1
   hierarchies (a kernel without CONFIG_MEMCG_V1 refuses the memory mount);
3. runs ``oomnb collect COLLECT-ARGS`` in this interpreter;
4. adds ``recording`` (QEMU TCG, vCPUs, memory, the guest's kernel release and
   config values, the verified hierarchy) to machine.json and each new run's
   meta.json, and rewrites the manifest.

Nothing here runs on the host: the guest's mounts and cgroups vanish with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from . import qemu
from .cgroups import parse_mounts, parse_proc_cgroup
from .metadata import _read

V1_CONTROLLERS = ("memory", "blkio", "freezer")
TCG_CAVEAT = ("recorded inside a QEMU TCG guest (no hardware virtualisation): throughput and latencies are not "
              "comparable to bare metal (the 2 s reaper timer and the orders of events are)")


def _sh(*argv: str) -> tuple[int, str]:
    r = subprocess.run(list(argv), capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


HYBRID_FREEZER = "/run/oomnb-freezer"


def setup_cgroups(version: int, freezer: int | None = None) -> list[str]:
    """Make the guest's /sys/fs/cgroup the hierarchy asked for; returns problems (one line each).
    ``version`` 2 with ``freezer`` 1: a v1 freezer hierarchy at /run/oomnb-freezer beside cgroup2."""
    mounts = parse_mounts(_read("/proc/self/mounts", ""))
    if version == 2:
        probs = []
        if not any(mp == "/sys/fs/cgroup" and t == "cgroup2" for mp, t, _ in mounts):
            probs.append("no cgroup2 mounted at /sys/fs/cgroup in the guest")
        if freezer == 1:
            os.makedirs(HYBRID_FREEZER, exist_ok=True)
            rc, msg = _sh("mount", "-t", "cgroup", "-o", "freezer", "freezer", HYBRID_FREEZER)
            if rc:
                probs.append(f"cgroup v1 freezer cannot be mounted beside cgroup2 in the guest: {msg}")
        return probs
    if any(t == "cgroup" and "memory" in o for _, t, o in mounts):
        return []
    if any(mp == "/sys/fs/cgroup" for mp, _, _ in mounts):
        rc, msg = _sh("umount", "/sys/fs/cgroup")
        if rc:
            return [f"umount /sys/fs/cgroup (cgroup2) in the guest: {msg}"]
    rc, msg = _sh("mount", "-t", "tmpfs", "-o", "mode=755", "oomnb-cgroup", "/sys/fs/cgroup")
    if rc:
        return [f"mount tmpfs on /sys/fs/cgroup in the guest: {msg}"]
    probs = []
    for c in V1_CONTROLLERS:
        d = f"/sys/fs/cgroup/{c}"
        os.makedirs(d, exist_ok=True)
        rc, msg = _sh("mount", "-t", "cgroup", "-o", c, c, d)
        if rc:
            hint = " (kernel without CONFIG_MEMCG_V1)" if c == "memory" else ""
            probs.append(f"cgroup v1 {c} controller cannot be mounted in the guest{hint}: {msg}")
    return probs


def hierarchy() -> dict:
    """What the guest really has: cgroup mounts, /proc/self/cgroup, /proc/cgroups, the command line."""
    mounts = [(mp, t, sorted(o)) for mp, t, o in parse_mounts(_read("/proc/self/mounts", "")) if t in ("cgroup", "cgroup2")]
    v1 = sorted(c for _, t, o in mounts if t == "cgroup" for c in o if c in V1_CONTROLLERS)
    v2 = [mp for mp, t, _ in mounts if t == "cgroup2"]
    v2_ctrls = _read(os.path.join(v2[0], "cgroup.controllers"), "").split() if v2 else []
    return {"version": 1 if "memory" in v1 else 2 if v2 and "memory" in v2_ctrls else None,
            "v1_controllers_mounted": v1, "cgroup2_mounts": v2, "cgroup2_controllers": v2_ctrls,
            "mounts": [f"{t} {mp} {','.join(o)}" for mp, t, o in mounts],
            "proc_self_cgroup": parse_proc_cgroup(_read("/proc/self/cgroup", "")),
            "proc_cgroups": _read("/proc/cgroups"), "cmdline": _read("/proc/cmdline")}


def guest_facts(config_path: str | None) -> dict:
    rel = os.uname().release
    cfg_src = None
    cfg: dict = {}
    import gzip
    for p in ([config_path] if config_path else []) + ["/proc/config.gz", f"/boot/config-{rel}"]:
        try:
            raw = gzip.open(p, "rt").read() if p.endswith(".gz") else open(p).read()
        except OSError:
            continue
        cfg_src, cfg = qemu.public_path(p), qemu.config_values(qemu.parse_config(raw))
        break
    return {"kernel_release": rel, "kernel_version": os.uname().version, "kernel_config_source": cfg_src,
            "kernel_config": cfg, "pm_test": _read("/sys/power/pm_test"), "power_state": _read("/sys/power/state"),
            "thp": _read("/sys/kernel/mm/transparent_hugepage/enabled"), "cpus": os.cpu_count(),
            "mem_total_kib": next((int(x.split()[1]) for x in (_read("/proc/meminfo", "") or "").splitlines()
                                   if x.startswith("MemTotal:")), None)}


def annotate(out: Path, recording: dict, old_recording: dict, before: set[str]) -> list[str]:
    """machine.json: ``recording`` (kept across boots), description, kernel config; new runs' meta.json."""
    mpath = out / "machine.json"
    m = json.loads(mpath.read_text())
    rec = dict(old_recording)
    rec.update({k: v for k, v in recording.items() if k != "boots"})
    rec["boots"] = old_recording.get("boots", [])
    m["recording"] = rec
    g = recording["guest"]
    h = recording["host"]
    mem_gib = round((g.get("mem_total_kib") or 0) / (1 << 20), 1)
    m["description"] = (f"QEMU TCG guest ({h.get('qemu') or 'qemu'}, virtme-ng, no KVM), {g['cpus']} vCPU, "
                        f"{h.get('memory')} ({mem_gib} GiB MemTotal), Linux {g['kernel_release']} "
                        f"({h.get('kernel_image_source')}), cgroup v{recording['hierarchy']['version']}")
    m["memory_gib"] = mem_gib
    if g.get("kernel_config"):
        m.setdefault("metadata", {})["kernel_config"] = {"source": g["kernel_config_source"], "values": g["kernel_config"]}
    if TCG_CAVEAT not in m.get("caveats", []):
        m.setdefault("caveats", []).append(TCG_CAVEAT)
    mpath.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    new = []
    short = {"accelerator": "tcg", "vcpus": h.get("vcpus"), "memory": h.get("memory"),
             "kernel_image_source": h.get("kernel_image_source"), "cgroup_hierarchy_verified": recording["hierarchy"]["version"],
             "v1_controllers_mounted": recording["hierarchy"].get("v1_controllers_mounted"),
             "kernel_command_line_append": h.get("append")}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and p.name not in before and (p / "meta.json").exists()):
        meta = json.loads((d / "meta.json").read_text())
        meta["recording"] = short
        if TCG_CAVEAT not in meta.get("caveats", []):
            meta.setdefault("caveats", []).append(TCG_CAVEAT)
        (d / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        new.append(d.name)
    return new


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oomnb.collect.qemu_guest")
    ap.add_argument("--cgroup", type=int, choices=(1, 2), required=True)
    ap.add_argument("--freezer", type=int, choices=(1, 2))
    ap.add_argument("--facts", required=True)
    ap.add_argument("--kernel-config")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    rest = a.rest[1:] if a.rest[:1] == ["--"] else a.rest
    out = Path(rest[rest.index("--out") + 1])
    for mod in ("loop", "virtio_blk"):
        _sh("modprobe", mod)
    probs = setup_cgroups(a.cgroup, a.freezer)
    hier = hierarchy()
    print(f"oomnb guest: Linux {os.uname().release}; cgroup hierarchy verified: v{hier['version']} "
          f"(v1 {','.join(hier['v1_controllers_mounted']) or '-'}; cgroup2 {','.join(hier['cgroup2_mounts']) or '-'} "
          f"controllers {' '.join(hier['cgroup2_controllers']) or '-'})", file=sys.stderr, flush=True)
    if hier["version"] != a.cgroup:
        probs.append(f"asked for cgroup v{a.cgroup}, the guest has v{hier['version']}")
    if probs:
        for p in probs:
            print(f"oomnb guest: refused: {p}", file=sys.stderr)
        return 3
    with open(a.facts) as f:
        host = json.load(f)["host"]
    # the guest's /tmp is an overlay over the host's: a private tmpfs keeps the host's files (another
    # collector's oomnb-* leftovers) out of the guest's stale-object cleanup
    rc, msg = _sh("mount", "-t", "tmpfs", "-o", "mode=1777", "oomnb-tmp", "/tmp")
    if rc:
        print(f"oomnb guest: note: private /tmp not mounted ({msg})", file=sys.stderr)
    old_rec = {}
    if (out / "machine.json").exists():
        try:
            old_rec = json.loads((out / "machine.json").read_text()).get("recording", {})
        except ValueError:
            old_rec = {}
    before = {p.name for p in out.iterdir() if p.is_dir()} if out.exists() else set()
    from ..cli import main as cli_main
    rc = cli_main(["collect"] + rest)
    if (out / "machine.json").exists():
        new = annotate(out, {"host": host, "guest": guest_facts(a.kernel_config), "hierarchy": hier}, old_rec, before)
        from .dataset import write_manifest
        write_manifest(out)
        print(f"oomnb guest: {len(new)} run(s) annotated in {out}", file=sys.stderr, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
