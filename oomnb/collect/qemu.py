"""Run the collector inside another kernel, booted in QEMU by virtme-ng.

``oomnb collect --kernel-image PATH|debian:6.1|debian:6.12 [--cgroup 1|2]``
boots the kernel with ``vng --run IMAGE --disable-kvm --force-9p`` over a
read-only view of this machine's filesystem, runs the same collector inside
the guest (:mod:`oomnb.collect.qemu_guest` sets up the guest's cgroups and
records what the guest really has) and brings the data set back through one
writable directory (``--rwdir``): the output directory itself. Everything the
OOM kills touch lives in the guest; the host only runs QEMU (no cgroup, loop
device, tracefs instance or mount of the host is created). QEMU runs in its
own session and is killed with it on every exit path (Ctrl-C, SIGTERM).

Split for tests: :func:`resolve_kernel` (image -> release and config),
:func:`build_plan` (everything decided before booting), :func:`plan_lines`
and :func:`tool_problems` (the dry run), :func:`boot` (the only part that
needs QEMU).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OomnbError, Refused

#: ``debian:X`` -> glob of the Debian package's image under /boot (amd64 generic, not -cloud: no 9p there)
DEBIAN = {
    "debian:6.1": ("/boot/vmlinuz-6.1.0-*-amd64", "linux-image-6.1.0-NN-amd64"),
    "debian:6.12": ("/boot/vmlinuz-6.12.*+deb*-amd64", "linux-image-6.12.NN+deb12-amd64-unsigned"),
}
#: kernel config values recorded with the data set and checked by the plan
CONFIG_KEYS = ("CONFIG_HZ", "CONFIG_PREEMPT_NONE", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT", "CONFIG_PREEMPT_DYNAMIC",
               "CONFIG_PREEMPT_RT", "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS",
               "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE", "CONFIG_PM_DEBUG", "CONFIG_PM_SLEEP_DEBUG", "CONFIG_SUSPEND",
               "CONFIG_MEMCG", "CONFIG_MEMCG_V1", "CONFIG_CGROUP_FREEZER", "CONFIG_BLK_DEV_THROTTLING", "CONFIG_BLK_DEV_LOOP",
               "CONFIG_VIRTIO_BLK", "CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS", "CONFIG_AIO", "CONFIG_FTRACE", "CONFIG_IKCONFIG_PROC")
GUEST_MODULE = "oomnb.collect.qemu_guest"
VCPUS = 2
VIRTIO_DEVICE = "/dev/vda"  # the first virtio-blk disk (the root is 9p, so it is the only one)
VIRTIO_DISK_BYTES = 64 << 20
MEMORY = "2G"


def parse_config(text: str) -> dict[str, str]:
    """``CONFIG_X=v`` and ``# CONFIG_X is not set`` (-> ``"n"``) lines of a kernel config."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip('"')
            continue
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            out[m.group(1)] = "n"
    return out


def config_values(cfg: dict[str, str]) -> dict[str, str | None]:
    return {k: cfg.get(k) for k in CONFIG_KEYS}


def bzimage_release(path: str) -> str | None:
    """The release string a bzImage carries in its setup header (``kernel_version`` field, boot protocol 2.00+)."""
    try:
        with open(path, "rb") as f:
            head = f.read(0x4000)
            if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
                return None
            off = int.from_bytes(head[0x20E:0x210], "little") + 0x200
            f.seek(off)
            raw = f.read(256)
    except OSError:
        return None
    s = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    return s.split()[0] if s.strip() else None


def _version_key(path: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


@dataclass
class Kernel:
    spec: str  # what the user gave
    image: str
    release: str
    config_path: str | None
    config: dict[str, str | None] = field(default_factory=dict)
    source: str = ""  # "debian package" / "image file"

    @property
    def major_minor(self) -> str:
        m = re.match(r"(\d+)\.(\d+)", self.release)
        return f"{m.group(1)}.{m.group(2)}" if m else self.release


def resolve_kernel(spec: str, config: str | None = None, boot_dir: str = "/boot") -> Kernel:
    """``debian:6.1`` / ``debian:6.12`` (newest matching image under /boot) or an image path."""
    if spec in DEBIAN:
        pattern, pkg = DEBIAN[spec]
        pattern = pattern.replace("/boot", boot_dir.rstrip("/"), 1)
        found = sorted(glob.glob(pattern), key=_version_key)
        if not found:
            raise Refused(f"--kernel-image {spec}: no {pattern} (install it: apt-get install {pkg})")
        image, source = found[-1], "debian package"
    elif spec.startswith("debian:"):
        raise OomnbError(f"--kernel-image {spec}: known: {', '.join(DEBIAN)} or a path to a bzImage")
    else:
        image, source = spec, "image file"
        if not os.path.isfile(image):
            raise Refused(f"--kernel-image {image}: no such file")
    release = bzimage_release(image)
    if not release:
        raise Refused(f"--kernel-image {image}: not a bzImage (no HdrS setup header with a kernel version)")
    cands = [config] if config else [os.path.join(os.path.dirname(image), f"config-{release}"),
                                      os.path.join(os.path.dirname(image), "config"), image + ".config"]
    cpath = next((c for c in cands if c and os.path.isfile(c)), None)
    if config and not cpath:
        raise Refused(f"--kernel-config {config}: no such file")
    cfg = {}
    if cpath:
        with open(cpath) as f:
            cfg = config_values(parse_config(f.read()))
    return Kernel(spec=spec, image=os.path.abspath(image), release=release,
                  config_path=os.path.abspath(cpath) if cpath else None, config=cfg, source=source)


def label(kernel: Kernel, cgroup: int, vcpus: int = VCPUS) -> str:
    """The data set's machine label (data/README.md: ``<host-kind><cpus>-cgroup<N>-linux<major.minor>``)."""
    return f"qemu{vcpus}-cgroup{cgroup}-linux{kernel.major_minor}"


@dataclass
class Plan:
    kernel: Kernel
    cgroup: int
    scenarios: list[str]
    limits: list[int]
    runs: int
    out: str
    collect_args: list[str]  # the guest's `oomnb collect` arguments (without --out)
    vcpus: int = VCPUS
    memory: str = MEMORY
    qemu_opts: list[str] = field(default_factory=list)
    python: str = sys.executable
    virtio_disk: bool = False  # a sparse raw image attached as virtio-blk (created and removed by boot())
    freezer: int | None = None  # 1 with cgroup 2: a v1 freezer hierarchy beside cgroup2 (hybrid)
    problems: list[str] = field(default_factory=list)  # the kernel cannot do what was asked

    @property
    def append(self) -> list[str]:
        """Kernel command line additions. v2: no v1 controller can be bound (``cgroup_no_v1=all``);
        v1: the guest side mounts the v1 hierarchies itself (virtme-ng's init mounts only cgroup2 and
        runs no systemd, so ``systemd.unified_cgroup_hierarchy`` would change nothing); v2 with a v1
        freezer: only memory and blkio are kept off v1."""
        if self.cgroup == 2:
            return ["cgroup_no_v1=memory,blkio"] if self.freezer == 1 else ["cgroup_no_v1=all"]
        return []

    def guest_command(self, facts_path: str) -> str:
        argv = [self.python, "-m", GUEST_MODULE, "--cgroup", str(self.cgroup), "--facts", facts_path]
        if self.freezer:
            argv += ["--freezer", str(self.freezer)]
        if self.kernel.config_path:
            argv += ["--kernel-config", self.kernel.config_path]
        argv += ["--", "--out", self.out] + self.collect_args
        return "cd / && " + shlex.join(argv)

    def vng_argv(self, vng: str, facts_path: str, disk: str | None = None) -> list[str]:
        argv = [vng, "--run", self.kernel.image, "--disable-kvm", "--force-9p", "--cpus", str(self.vcpus),
                "--memory", self.memory, f"--rwdir={self.out}"]
        for a in self.append:
            argv += ["--append", a]
        for o in self.qemu_opts:
            argv.append(f"--qemu-opts={o}")
        if self.virtio_disk:
            argv.append(f"--qemu-opts=-drive file={disk or 'DISK.img'},if=virtio,format=raw")
        return argv + ["--", self.guest_command(facts_path)]


def build_plan(kernel: Kernel, cgroup: int, scenarios: list[str], limits: list[int], runs: int, out: str | None,
               collect_args: list[str], qemu_opts: list[str] | None = None, memory: str = MEMORY,
               vcpus: int = VCPUS, freezer: int | None = None, virtio_disk: bool = False) -> Plan:
    out_dir = os.path.abspath(out or os.path.join("data", label(kernel, cgroup, vcpus)))
    p = Plan(kernel=kernel, cgroup=cgroup, scenarios=scenarios, limits=limits, runs=runs, out=out_dir,
             collect_args=collect_args, qemu_opts=list(qemu_opts or []), memory=memory, vcpus=vcpus,
             freezer=freezer if freezer != cgroup else None, virtio_disk=virtio_disk)
    c = kernel.config
    if not kernel.config_path:
        p.problems.append(f"no kernel config found for {kernel.image} (config-{kernel.release} or config beside it; "
                          "--kernel-config PATH): cannot check the kernel's features")
    else:
        def off(k):
            return c.get(k) in (None, "n")
        for k, why in (("CONFIG_MEMCG", "memory cgroups"), ("CONFIG_FTRACE", "tracefs events"),
                       ("CONFIG_BLK_DEV_THROTTLING", "the throttled loop device")):
            if off(k):
                p.problems.append(f"{kernel.release}: {k} is not set ({why})")
        if cgroup == 1 and c.get("CONFIG_MEMCG_V1") == "n":
            p.problems.append(f"{kernel.release}: CONFIG_MEMCG_V1 is not set: no cgroup v1 memory controller "
                              "in this kernel (use --cgroup 2)")
        if "frozen-victim" in scenarios and 1 in (cgroup, freezer) and off("CONFIG_CGROUP_FREEZER"):
            p.problems.append(f"{kernel.release}: CONFIG_CGROUP_FREEZER is not set (frozen-victim under cgroup v1)")
        if c.get("CONFIG_NET_9P_VIRTIO") in (None, "n") or c.get("CONFIG_9P_FS") in (None, "n"):
            p.problems.append(f"{kernel.release}: no 9p over virtio (CONFIG_NET_9P_VIRTIO, CONFIG_9P_FS): "
                              "virtme-ng cannot share the host's filesystem")
    mem = parse_memory(memory)
    if "suspend-dstate" in scenarios and c and c.get("CONFIG_PM_DEBUG") in (None, "n"):
        p.problems.append(f"{kernel.release}: CONFIG_PM_DEBUG is not set: no /sys/power/pm_test for suspend-dstate")
    if virtio_disk and c and c.get("CONFIG_VIRTIO_BLK") in (None, "n"):
        p.problems.append(f"{kernel.release}: CONFIG_VIRTIO_BLK is not set (--virtio-disk)")
    if freezer == 2 and cgroup == 1:
        p.problems.append("--freezer 2 needs --cgroup 2")
    if mem is None:
        p.problems.append(f"--qemu-memory {memory!r}: not a size like 2G")
    else:
        for lim in limits:
            if lim > mem // 4:
                p.problems.append(f"limit {lim >> 20}M is above a quarter of the guest's {memory} (the guest collector "
                                  "refuses limits above half of MemAvailable)")
    return p


def parse_memory(text: str) -> int | None:
    m = re.fullmatch(r"(\d+)([MG])", text.strip(), re.I)
    return int(m.group(1)) << (20 if m.group(2).upper() == "M" else 30) if m else None


def find_vng() -> str | None:
    """virtme-ng's ``vng``, next to this interpreter (a venv) or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "vng")
    return here if os.access(here, os.X_OK) else shutil.which("vng")


def tool_problems(qemu: str = "qemu-system-x86_64") -> tuple[list[str], dict]:
    """What the host lacks to boot a guest (one line each), and what it has."""
    probs, have = [], {}
    q = shutil.which(qemu)
    if not q:
        probs.append(f"{qemu} not found (apt-get install qemu-system-x86)")
    else:
        have["qemu"] = q
        try:
            r = subprocess.run([q, "--version"], capture_output=True, text=True, timeout=20)
            have["qemu_version"] = (r.stdout.splitlines() or [""])[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    v = find_vng()
    if not v:
        probs.append("vng (virtme-ng) not found (pip install virtme-ng)")
    else:
        have["vng"] = v
        try:
            r = subprocess.run([v, "--version"], capture_output=True, text=True, timeout=20, env=vng_env(v))
            have["vng_version"] = (r.stdout or r.stderr).strip()
        except (OSError, subprocess.SubprocessError):
            pass
    have["kvm"] = kvm_usable()
    return probs, have


def kvm_usable() -> bool:
    """Hardware virtualisation (vmx/svm) and /dev/kvm; the collector boots with --disable-kvm regardless."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return os.path.exists("/dev/kvm") and re.search(r"\b(vmx|svm)\b", flags) is not None


def vng_env(vng: str) -> dict:
    """vng runs ``virtme-run`` from PATH: put its own directory first."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(vng) + os.pathsep + env.get("PATH", "")
    return env


def plan_lines(plan: Plan, have: dict, tool_probs: list[str]) -> list[str]:
    k = plan.kernel
    c = k.config
    pre = next((x.split("CONFIG_")[1] for x in ("CONFIG_PREEMPT_RT", "CONFIG_PREEMPT", "CONFIG_PREEMPT_VOLUNTARY",
                                                 "CONFIG_PREEMPT_NONE") if c.get(x) == "y"), "?")
    thp = "always" if c.get("CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS") == "y" else \
        "madvise" if c.get("CONFIG_TRANSPARENT_HUGEPAGE_MADVISE") == "y" else "?"
    total = len(plan.scenarios) * len(plan.limits) * plan.runs
    lines = [f"plan: boot {k.release} ({k.source} {k.image}) in QEMU TCG, {plan.vcpus} vCPUs, {plan.memory}; "
             f"{total} run(s) into {plan.out}",
             f"  kernel config {k.config_path or '?'}: HZ={c.get('CONFIG_HZ')} PREEMPT={pre} "
             f"THP default={thp} PM_DEBUG={c.get('CONFIG_PM_DEBUG')} MEMCG_V1={c.get('CONFIG_MEMCG_V1')}",
             f"  cgroup v{plan.cgroup} in the guest"
             + (f" (kernel command line {' '.join(plan.append)})" if plan.cgroup == 2 else
                " (the guest side mounts memory, blkio, freezer v1 hierarchies over /sys/fs/cgroup)")
             + ("; frozen-victim freezes with a v1 freezer hierarchy beside cgroup2 (the refrigerator, as v1 does)"
                if plan.freezer == 1 else ""),
             f"  host: {have.get('qemu_version') or have.get('qemu') or 'no qemu'}; {have.get('vng_version') or 'no vng'}; "
             f"KVM {'usable but not used' if have.get('kvm') else 'unavailable'} (TCG)",
             f"  scenarios {','.join(plan.scenarios)} at {','.join(f'{x >> 20}M' for x in plan.limits)} x{plan.runs}",
             "  host side: nothing is created but the output directory; QEMU runs in its own session and is killed on "
             "every exit path"]
    if plan.qemu_opts:
        lines.append(f"  qemu options: {' '.join(plan.qemu_opts)}")
    if plan.virtio_disk:
        lines.append(f"  virtio-blk disk: a sparse {VIRTIO_DISK_BYTES >> 20} MiB raw image in a temporary directory "
                     f"(removed at the end), {VIRTIO_DEVICE} in the guest, read instead of a loop device")
    for p in tool_probs + plan.problems:
        lines.append("  would refuse: " + p)
    return lines


# ---------------------------------------------------------------------------------------------------
# booting


class Guest:
    """vng (and its QEMU) as one process session: :meth:`stop` kills the whole session and waits."""

    def __init__(self, argv: list[str], env: dict, log_path: str):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # the session may outlive its leader (qemu forked by a wrapper): kill what is left of it
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()


def boot(plan: Plan, vng: str, have: dict, echo=lambda b: (sys.stderr.buffer.write(b), sys.stderr.flush())) -> dict:
    """Boot the guest, stream its console, return what the host knows of the boot. The guest reads
    the host facts from a temporary file outside the data set (the host's /tmp is visible inside)."""
    import tempfile

    out = Path(plan.out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="oomnb-qemu-")
    facts = os.path.join(tmp, "facts.json")
    with open(facts, "w") as f:
        json.dump({"host": host_facts(plan, have)}, f, indent=2, sort_keys=True)
    disk = None
    if plan.virtio_disk:
        disk = os.path.join(tmp, "oomnb-disk.img")
        with open(disk, "wb") as f:
            f.truncate(VIRTIO_DISK_BYTES)  # sparse: reads of holes cost nothing
    argv = plan.vng_argv(vng, facts, disk)
    before = {p.name for p in out.iterdir() if p.is_dir()}
    t0 = time.monotonic()
    rc = None
    old = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    g = None
    try:
        g = Guest(argv, vng_env(vng), os.path.join(tmp, "console.log"))
        for chunk in iter(g.proc.stdout.readline, b""):
            g.log.write(chunk)
            echo(chunk)
        rc = g.proc.wait()
    finally:
        if g is not None:
            g.stop()
        signal.signal(signal.SIGTERM, old)
        wall = time.monotonic() - t0
        for p in out.iterdir():  # runs the guest left half-written (they died with the VM)
            if p.is_dir() and p.name.endswith(".partial") and p.name not in before:
                shutil.rmtree(p, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any((p / "meta.json").exists() for p in out.iterdir() if p.is_dir()):
            shutil.rmtree(out, ignore_errors=True)  # a set this boot started but recorded nothing into
    if not out.exists():
        return {"rc": rc, "wall_s": round(wall, 1), "argv": argv, "new_runs": []}
    new = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name not in before and (p / "meta.json").exists())
    return {"rc": rc, "wall_s": round(wall, 1), "argv": argv, "new_runs": new}


def public_path(path: str | None) -> str | None:
    """A path as recorded in a data set: /boot and /proc paths as they are (a Debian package's files),
    anything else by its file name only (a build directory on the recording machine means nothing elsewhere)."""
    if not path:
        return path
    return path if path.startswith(("/boot/", "/proc/")) else os.path.basename(path)


def _sha256(path: str | None) -> str | None:
    import hashlib
    if not path:
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_facts(plan: Plan, have: dict) -> dict:
    return {"accelerator": "tcg", "vcpus": plan.vcpus, "memory": plan.memory, "qemu": have.get("qemu_version"),
            "virtme_ng": have.get("vng_version"), "kernel_image": public_path(plan.kernel.image),
            "kernel_image_sha256": _sha256(plan.kernel.image), "kernel_release": plan.kernel.release,
            "kernel_image_source": plan.kernel.source, "kernel_spec": public_path(plan.kernel.spec),
            "kernel_config": public_path(plan.kernel.config_path), "kernel_config_sha256": _sha256(plan.kernel.config_path),
            "append": plan.append, "qemu_opts": plan.qemu_opts, "freezer": plan.freezer,
            "virtio_disk": f"{VIRTIO_DEVICE}: sparse {VIRTIO_DISK_BYTES >> 20} MiB raw image, if=virtio" if plan.virtio_disk else None,
            "host_kernel_release": os.uname().release}


def record_boot(out: str, result: dict, plan: Plan) -> None:
    """Add this boot (argv, wall time, runs) to machine.json's ``recording.boots``."""
    path = Path(out) / "machine.json"
    if not path.exists():
        return
    m = json.loads(path.read_text())
    rec = m.setdefault("recording", {})
    rec.setdefault("boots", []).append({
        "kernel_spec": public_path(plan.kernel.spec), "wall_s": result["wall_s"], "runs": result["new_runs"],
        "vng": " ".join(shlex.quote(public_path(a) if a in (plan.kernel.image, result["argv"][0]) else
                                    re.sub(r"file=[^,]*/", "file=", a))
                        for a in result["argv"][:-2] if not a.startswith("--rwdir=")),
        "collect_args": plan.collect_args})
    path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
