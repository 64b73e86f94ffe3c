"""machine.json and manifest.sha256 of a collected data set (layout of data/README.md)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from .. import __version__
from . import metadata as md


def write_manifest(machine_dir: Path) -> int:
    """``sha256sum`` format, paths relative to ``machine_dir``, every file but itself; returns the count."""
    lines = []
    for p in sorted(machine_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.sha256" and ".partial" not in p.parent.name:
            rel = p.relative_to(machine_dir).as_posix()
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n")
    (machine_dir / "manifest.sha256").write_text("".join(lines))
    return len(lines)


def write_machine(machine_dir: Path, layout_version: int, controllers: list[str], trace_clock: str = "mono") -> dict:
    """Create or refresh machine.json (keeps the first capture date)."""
    path = machine_dir / "machine.json"
    old = {}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
    m = md.machine(layout_version, controllers)
    virt = m["virtualisation"]
    kind = virt.get("systemd_detect_virt_vm") or ("hypervisor" if virt.get("hypervisor_flag") else "bare metal")
    mem_gib = round((m["memory_bytes"] or 0) / (1 << 30))
    data = {
        "schema": "oomnb-machine/1",
        "label": machine_dir.name,
        "description": f"{kind} guest, {m['cpus']} CPU {m['cpu_model']}, {mem_gib} GiB" if kind != "bare metal"
        else f"bare metal, {m['cpus']} CPU {m['cpu_model']}, {mem_gib} GiB",
        "cpus": m["cpus"],
        "memory_gib": mem_gib,
        "cgroup_version": layout_version,
        "controllers": controllers,
        "kernel_release": m["kernel_release"],
        "arch": m["arch"],
        "trace_clock": trace_clock,
        "thp": m["thp"]["enabled"],
        "clock_note": "trace_clock=mono is CLOCK_MONOTONIC, the clock of memcg.csv and stacks.txt; printk (kmsg.txt, "
                      "local_clock) minus CLOCK_MONOTONIC is measured per run by a /dev/kmsg marker (meta.json clock_offset)",
        "provenance": {"kind": "collected", "source": f"oomnb collect {__version__}",
                       "captured": old.get("provenance", {}).get("captured") or time.strftime("%Y-%m-%d", time.gmtime()),
                       "description": "runs recorded by oomnb collect on this machine"},
        "caveats": [
            "sched_process_exit has group_dead= on 6.x (>= ~6.16): it fires at the start of the exit, before exit_mm",
            "sched_process_exit/free are filtered to the victim's (and trigger's) tids; oom:* and signal_generate "
            "(sig == 9) are unfiltered: other processes' SIGKILLs may appear",
            "trace.txt contains the collector's trace_marker lines (tracing_mark_write: oomnb: ...) marking its phases",
        ],
        "metadata": m,
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
