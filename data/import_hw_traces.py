#!/usr/bin/env python3
"""Import ``../shared/hw-traces/`` into ``data/`` in the data-set layout.

Run once from the repository root (``python3 data/import_hw_traces.py
SRC_DIR``); the result is committed, so a clone never needs ``../shared``.
Files are copied byte for byte; only their names change (see README.md).
It is kept for provenance: it documents exactly how ``data/`` was made.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

KERNEL = "6.18.44"
CAPTURED = "2026-11-25"
SOURCE = "../shared/hw-traces"

MACHINES = {
    "epyc2-cgroup1-linux6.18": {
        "description": "KVM guest, 2 vCPU AMD EPYC, 24 GiB",
        "cpus": 2, "memory_gib": 24, "cpu_vendor": "AMD EPYC",
        "cgroup_version": 1, "controllers": ["memory", "blkio"],
        "trace_clock": "mono",
        "thp": "madvise",
        "printk_minus_trace_ms_approx": 0.69,
        "clock_note": ("trace_clock=mono is CLOCK_MONOTONIC, the same clock as memcg.csv "
                       "(monotonic_s): memcg usage can be drawn on the trace time axis. "
                       "printk (local_clock) = trace + about 0.69 ms."),
    },
    "xeon16-cgroup2-linux6.18": {
        "description": "KVM guest, 16 vCPU Intel Xeon, 128 GiB",
        "cpus": 16, "memory_gib": 128, "cpu_vendor": "Intel Xeon",
        "cgroup_version": 2, "controllers": ["memory", "io"],
        "trace_clock": "local",
        "thp": None,
        "printk_minus_trace_ms_approx": -32.75,
        "clock_note": ("trace_clock=local is raw sched_clock(); memcg.csv uses CLOCK_MONOTONIC: "
                       "the two time axes are NOT aligned (align on the kill, or leave usage out). "
                       "printk (local_clock) = trace - about 32.75 ms."),
    },
}

SCENARIOS = {
    "fast-exit": ("the victim only allocates 16 MiB chunks until the memcg OOM killer kills it; "
                  "its exit path is unobstructed"),
    "aio-blocked": ("before allocating, the victim submitted 128 O_DIRECT Linux-AIO reads against a "
                    "loop device throttled to 1 IO/s (v1 blkio.throttle.read_iops_device, v2 io.max "
                    "riops=1); its exit blocks in __mmput -> exit_aio; the throttle was lifted only "
                    "after the reaper finished (or 6 s after the kill)"),
}

CAVEATS_COMMON = [
    "dmesg.txt is the kernel log's last 200 lines at the end of the run, filtered to "
    "'invoked oom-killer', 'Killed process' and 'oom_reaper' lines: it repeats kills of "
    "earlier runs of the same set (deduplicate by pid and timestamp)",
    "the tracefs instance recorded the whole machine (oom:*, sched_process_exit, "
    "sched_process_free, signal_generate sig==9): other processes appear, filter by the victim pid",
    "victim_pids were not recorded by the capture: the victim is the pid of mark_victim in trace.txt",
    "sched_process_exit has group_dead= (6.18): it fires at the start of the exit, before exit_mm",
]

RUN_CAVEATS = {
    ("xeon16-cgroup2-linux6.18", "fast-exit-49152M-3"): [
        "the reaper joined the victim's own 48 GiB exit_mmap and unmapped only what was left: "
        "do not use this run to fit reap throughput",
    ],
}

NAME = re.compile(r"^(?P<scenario>[a-z-]+?)-(?P<limit>\d+)M-(?P<run>\d+)\.(?P<ext>trace|dmesg|memcg\.csv)$")
TARGET = {"trace": ("trace.txt", "ftrace"), "dmesg": ("dmesg.txt", "dmesg"), "memcg.csv": ("memcg.csv", "memcg-csv")}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(machine_dir: Path) -> Path:
    """(Re)write ``manifest.sha256`` for every file below ``machine_dir``."""
    lines = []
    for p in sorted(machine_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.sha256":
            lines.append(f"{sha256(p)}  {p.relative_to(machine_dir).as_posix()}\n")
    out = machine_dir / "manifest.sha256"
    out.write_text("".join(lines))
    return out


def dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def main(src: str, dst: str = "data") -> int:
    src_root, dst_root = Path(src), Path(dst)
    for label, m in MACHINES.items():
        sdir, ddir = src_root / label, dst_root / label
        ddir.mkdir(parents=True, exist_ok=True)
        runs: dict[str, dict] = {}
        for f in sorted(sdir.iterdir()):
            if f.name == "hw-traces-README.md":
                continue
            mt = NAME.match(f.name)
            if not mt:
                raise SystemExit(f"{f}: unexpected name")
            run = f"{mt['scenario']}-{mt['limit']}M-{mt['run']}"
            r = runs.setdefault(run, {"scenario": mt["scenario"], "limit_mib": int(mt["limit"]),
                                      "run": int(mt["run"]), "files": {}, "sources": {}})
            name, fmt = TARGET[mt["ext"]]
            rdir = ddir / run
            rdir.mkdir(exist_ok=True)
            shutil.copyfile(f, rdir / name)
            assert sha256(f) == sha256(rdir / name)
            r["files"][name] = fmt
            r["sources"][name] = {"path": f"{SOURCE}/{label}/{f.name}", "sha256": sha256(f)}
        for run, r in runs.items():
            meta = {
                "schema": "oomnb-run/1",
                "machine": label,
                "scenario": r["scenario"],
                "scenario_description": SCENARIOS[r["scenario"]],
                "limit_bytes": r["limit_mib"] << 20,
                "run": r["run"],
                "run_note": "sequence index within the set's runs of this scenario, not a repetition count",
                "trace_clock": m["trace_clock"],
                "cgroup_version": m["cgroup_version"],
                "kernel_release": KERNEL,
                "victim_pids": None,
                "files": dict(sorted(r["files"].items())),
                "provenance": {
                    "kind": "imported",
                    "source": f"{SOURCE}/{label}/",
                    "captured": CAPTURED,
                    "description": ("raw capture of a memcg-confined OOM kill, real kernel output; "
                                    "files copied byte for byte, renamed"),
                    "originals": dict(sorted(r["sources"].items())),
                    "importer": "data/import_hw_traces.py",
                },
                "caveats": CAVEATS_COMMON + RUN_CAVEATS.get((label, run), []),
            }
            (ddir / run / "meta.json").write_text(dump(meta))
        machine = {
            "schema": "oomnb-machine/1",
            "label": label,
            **{k: v for k, v in m.items()},
            "kernel_release": KERNEL,
            "arch": "x86_64",
            "provenance": {
                "kind": "imported",
                "source": f"{SOURCE}/{label}/",
                "source_readme": "hw-traces-README.md (verbatim copy of the source README)",
                "captured": CAPTURED,
                "description": "Raw captures of memcg-confined OOM kills on Linux 6.18.44 (x86_64), real kernel output",
            },
            "caveats": CAVEATS_COMMON,
        }
        (ddir / "machine.json").write_text(dump(machine))
        shutil.copyfile(src_root / "README.md", ddir / "hw-traces-README.md")
        write_manifest(ddir)
        print(f"{label}: {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
