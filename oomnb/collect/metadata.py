"""Machine and run metadata for ``oomnb collect`` (read-only probes of /proc and /sys)."""

from __future__ import annotations

import gzip
import os
import platform
import re
import subprocess

CONFIG_KEYS = ("CONFIG_HZ", "CONFIG_HZ_PERIODIC", "CONFIG_NO_HZ_IDLE", "CONFIG_NO_HZ_FULL", "CONFIG_PREEMPT_NONE",
               "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT", "CONFIG_PREEMPT_RT", "CONFIG_PREEMPT_DYNAMIC",
               "CONFIG_PREEMPT_LAZY", "CONFIG_MEMCG", "CONFIG_MEMCG_V1", "CONFIG_CGROUP_FREEZER",
               "CONFIG_BLK_DEV_THROTTLING", "CONFIG_AIO", "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_MMU_GATHER_RCU_TABLE_FREE",
               "CONFIG_PER_VMA_LOCK", "CONFIG_LRU_GEN", "CONFIG_KSM", "CONFIG_SWAP")
SYSCTLS = ("vm/panic_on_oom", "vm/oom_kill_allocating_task", "vm/oom_dump_tasks", "vm/overcommit_memory",
           "vm/overcommit_ratio", "vm/overcommit_kbytes", "fs/aio-max-nr", "fs/aio-nr", "kernel/printk_devkmsg")


def _read(path: str, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def kernel_config() -> dict:
    out: dict = {"source": None}
    for path in ("/proc/config.gz", f"/boot/config-{platform.release()}"):
        try:
            raw = gzip.open(path, "rt").read() if path.endswith(".gz") else open(path).read()
        except OSError:
            continue
        out["source"] = path
        vals = {}
        for line in raw.splitlines():
            m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
            if m and m.group(1) in CONFIG_KEYS:
                vals[m.group(1)] = m.group(2).strip('"')
        for k in CONFIG_KEYS:
            vals.setdefault(k, None)
        out["values"] = vals
        break
    return out


def thp_mode(name: str) -> str | None:
    raw = _read(f"/sys/kernel/mm/transparent_hugepage/{name}")
    m = re.search(r"\[(\S+)\]", raw or "")
    return m.group(1) if m else raw


def meminfo() -> dict[str, int]:
    out = {}
    for line in (_read("/proc/meminfo", "") or "").splitlines():
        f = line.replace(":", "").split()
        if len(f) >= 2 and f[1].isdigit():
            out[f[0]] = int(f[1]) * (1024 if len(f) > 2 and f[2] == "kB" else 1)
    return out


def vmstat(keys=("oom_kill",)) -> dict[str, int]:
    out = {}
    for line in (_read("/proc/vmstat", "") or "").splitlines():
        k, _, v = line.partition(" ")
        if k in keys:
            out[k] = int(v)
    return out


def virtualisation() -> dict:
    cpuinfo = _read("/proc/cpuinfo", "") or ""
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    out = {"hypervisor_flag": bool(flags and " hypervisor" in flags.group(1)),
           "dmi_sys_vendor": _read("/sys/class/dmi/id/sys_vendor"),
           "dmi_product_name": _read("/sys/class/dmi/id/product_name")}
    try:
        r = subprocess.run(["systemd-detect-virt", "--vm"], capture_output=True, text=True, timeout=5)
        out["systemd_detect_virt_vm"] = r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["systemd_detect_virt_vm"] = None
    return out


def cpu_model() -> str | None:
    m = re.search(r"^model name\s*:\s*(.*)$", _read("/proc/cpuinfo", "") or "", re.M)
    return m.group(1).strip() if m else None


def machine(layout_version: int, controllers: list[str]) -> dict:
    mi = meminfo()
    u = os.uname()
    return {
        "kernel_release": u.release,
        "kernel_version": u.version,
        "arch": u.machine,
        "hostname_hash": None,  # not recorded (privacy)
        "kernel_config": kernel_config(),
        "cmdline": _read("/proc/cmdline"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": mi.get("MemTotal"),
        "swap_bytes": mi.get("SwapTotal"),
        "cgroup_version": layout_version,
        "controllers": controllers,
        "virtualisation": virtualisation(),
        "thp": {"enabled": thp_mode("enabled"), "defrag": thp_mode("defrag")},
        "sysctl": {k.replace("/", "."): _read(f"/proc/sys/{k}") for k in SYSCTLS},
    }
