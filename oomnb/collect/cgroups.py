"""Memory / throttle / freezer cgroups for one collector run, v1 and v2.

Everything is relative to ``root`` (``/`` on a real machine, a fake tree in
tests): ``root/proc/self/mounts``, ``root/proc/self/cgroup`` and the cgroup
mount points found there. A run's cgroups are created **below the
collector's own cgroup** of each hierarchy and named ``oomnb-...``.

* v1: ``memory/<own>/oomnb-ID`` (``memory.limit_in_bytes``, and
  ``memory.memsw.limit_in_bytes`` when swap exists), ``blkio/<own>/oomnb-ID``
  (``blkio.throttle.read_iops_device`` / ``read_bps_device``),
  ``freezer/<own>/oomnb-ID`` (``freezer.state``) for the victim only.
* v2: ``<own>/oomnb-ID`` carries ``memory.max``, ``memory.swap.max`` and
  ``io.max`` (``riops=`` / ``rbps=``) for its subtree; processes live in the
  leaves ``victim`` and ``trigger``; freezing writes ``victim/cgroup.freeze``,
  or, where a v1 ``freezer`` hierarchy is mounted beside cgroup2 (hybrid),
  ``freezer/<own>/oomnb-ID/freezer.state`` (the refrigerator, not the
  signal-based v2 freezer).
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field

from ..errors import OomnbError, Refused


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, text: str) -> None:
    # one write() per value, as the kernel's cgroup files expect
    # (a fake tree in tests is a plain directory: create/truncate there)
    flags = os.O_WRONLY if path.startswith(("/sys/", "/proc/")) else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` -> {controller: path}; the v2 entry is key ``""``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if ctrls == "":
            out[""] = path
        for c in ctrls.split(","):
            if c:
                out[c] = path
    return out


def parse_mounts(text: str) -> list[tuple[str, str, set[str]]]:
    """``/proc/self/mounts`` -> [(mountpoint, fstype, options)]."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 4:
            out.append((f[1].replace("\\040", " "), f[2], set(f[3].split(","))))
    return out


def parse_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.events, memory.oom_control, memory.stat)."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2:
            try:
                out[f[0]] = int(f[1])
            except ValueError:
                pass
    return out


#: throttle file -> the line that lifts a device's limit in it (v1 blkio, v2 io.max)
LIFT_LINE = {
    "blkio.throttle.read_iops_device": "{dev} 0",
    "blkio.throttle.read_bps_device": "{dev} 0",
    "io.max": "{dev} riops=max rbps=max",  # the collector only sets read limits
}


def lift_line(path: str, dev: str) -> str:
    """What to write to throttle file ``path`` to lift device ``dev``'s limit."""
    return LIFT_LINE[os.path.basename(path)].format(dev=dev)


def retry(fn, what: str, tries: int = 5, delay: float = 0.2):
    """Call ``fn`` until it succeeds; re-raise the last error after ``tries``."""
    last = None
    for i in range(tries):
        try:
            return fn()
        except OSError as e:
            last = e
            if e.errno == errno.ENOENT and what.startswith("rmdir"):
                return None  # already gone
            time.sleep(delay * (i + 1))
    raise OomnbError(f"{what}: {last}")


@dataclass
class Layout:
    """Which cgroup setup this machine has, and where the collector sits in it."""

    version: int
    root: str
    mounts: dict[str, str] = field(default_factory=dict)  # controller ("" for v2) -> mount point
    own: dict[str, str] = field(default_factory=dict)  # controller -> own cgroup path
    problems: list[str] = field(default_factory=list)

    def path(self, ctrl: str, *rest: str) -> str:
        base = self.root.rstrip("/") + self.mounts[ctrl] + self.own[ctrl].rstrip("/")
        return os.path.join(base, *rest) if rest else base


def detect(root: str = "/", need_freezer: bool = False) -> Layout:
    """Find the memory and throttle controllers; ``problems`` says what is missing."""
    r = root.rstrip("/")
    try:
        mounts = parse_mounts(_read(r + "/proc/self/mounts"))
        own = parse_proc_cgroup(_read(r + "/proc/self/cgroup"))
    except OSError as e:
        lay = Layout(version=0, root=root)
        lay.problems.append(f"cannot read /proc/self/mounts or /proc/self/cgroup: {e.strerror}")
        return lay
    v1 = {}
    v2 = None
    for mp, fstype, opts in mounts:
        if fstype == "cgroup":
            for c in ("memory", "blkio", "freezer"):
                if c in opts:
                    v1[c] = mp
        elif fstype == "cgroup2" and v2 is None:
            v2 = mp
    if "memory" in v1:
        lay = Layout(version=1, root=root, mounts=dict(v1), own={c: own.get(c, "/") for c in v1})
        if "blkio" not in v1:
            lay.problems.append("no cgroup v1 blkio controller mounted (needed to throttle the loop device)")
        elif not os.path.exists(lay.path("blkio", "blkio.throttle.read_iops_device")):
            lay.problems.append("blkio controller has no blkio.throttle.read_iops_device (kernel without CONFIG_BLK_DEV_THROTTLING)")
        if need_freezer and "freezer" not in v1:
            lay.problems.append("no cgroup v1 freezer controller mounted (needed by frozen-victim)")
        for c in v1:
            if c not in own:
                lay.problems.append(f"/proc/self/cgroup has no {c} entry")
        return lay
    if v2 is not None and "" in own:
        lay = Layout(version=2, root=root, mounts={"": v2}, own={"": own[""]})
        if "freezer" in v1:  # hybrid: a v1 freezer hierarchy beside cgroup2 freezes with the refrigerator
            lay.mounts["freezer"] = v1["freezer"]
            lay.own["freezer"] = own.get("freezer", "/")
        try:
            ctrls = _read(lay.path("", "cgroup.controllers")).split()
        except OSError as e:
            lay.problems.append(f"cannot read cgroup.controllers of own cgroup {own['']}: {e.strerror}")
            return lay
        if "memory" not in ctrls:
            lay.problems.append(f"memory controller not available in own cgroup {own['']} (cgroup.controllers)")
        if "io" not in ctrls:
            lay.problems.append(f"io controller not available in own cgroup {own['']} (cgroup.controllers; needed to throttle the loop device)")
        try:
            sub = _read(lay.path("", "cgroup.subtree_control")).split()
            procs = _read(lay.path("", "cgroup.procs")).split() if os.path.exists(lay.path("", "cgroup.procs")) else []
        except OSError:
            sub, procs = [], []
        if own[""] != "/" and procs and not {"memory", "io"} <= set(sub):
            lay.problems.append(f"own cgroup {own['']} has processes and memory/io are not in its cgroup.subtree_control "
                                "(cgroup v2 'no internal processes'): run the collector in a delegated cgroup, "
                                "e.g. systemd-run --scope -p Delegate=yes oomnb collect ...")
        return lay
    lay = Layout(version=0, root=root)
    lay.problems.append("no memory cgroup controller (neither cgroup v1 memory nor cgroup v2 with memory)")
    return lay


def swap_total_bytes(root: str = "/") -> int:
    for line in _read(root.rstrip("/") + "/proc/meminfo").splitlines():
        if line.startswith("SwapTotal:"):
            return int(line.split()[1]) * 1024
    return 0


class RunCgroups:
    """The cgroups of one run; create() then add/throttle/freeze, remove() at the end."""

    version = 0

    def __init__(self, layout: Layout, name: str, *, freezer: bool = False, trigger: bool = False):
        if not name.startswith("oomnb-"):
            raise ValueError("cgroup names start with oomnb-")
        self.layout = layout
        self.name = name
        self.freezer = freezer
        self.trigger = trigger
        self.created: list[str] = []  # directories, in creation order
        self.throttled: list[tuple[str, str]] = []  # (file, "maj:min") to lift

    # -- common helpers ---------------------------------------------------------------------------
    def _mkdir(self, path: str) -> None:
        self.created.append(path)  # first: an interrupt right after mkdir must not leak it
        try:
            os.mkdir(path)
        except OSError:
            self.created.remove(path)
            raise

    def remove(self) -> list[str]:
        """rmdir everything created, leaves first; each retried. Returns what was removed."""
        done = []
        errors = []
        for p in reversed(self.created):
            try:
                retry(lambda p=p: os.rmdir(p), f"rmdir {p}", tries=10, delay=0.1)
                done.append(p)
            except OomnbError as e:
                errors.append(str(e))
        self.created = [p for p in self.created if p not in done]
        if errors:
            raise OomnbError("; ".join(errors))
        return done


class CgroupV1(RunCgroups):
    version = 1

    def create(self, limit_bytes: int, swap_bytes: int = 0) -> None:
        L = self.layout
        self.mem = L.path("memory", self.name)
        self._mkdir(self.mem)
        _write(os.path.join(self.mem, "memory.limit_in_bytes"), str(limit_bytes))
        got = int(_read(os.path.join(self.mem, "memory.limit_in_bytes")).strip() or 0)
        if got > limit_bytes:
            raise OomnbError(f"memory.limit_in_bytes of {self.mem} reads {got}, wanted {limit_bytes}")
        memsw = os.path.join(self.mem, "memory.memsw.limit_in_bytes")
        if swap_bytes:
            if not os.path.exists(memsw):
                raise Refused("swap exists but memory.memsw.limit_in_bytes is missing (swap accounting off): cannot bound the victim's swap")
            _write(memsw, str(limit_bytes))  # memory+swap == memory: no swap use
        self.blk = None
        if "blkio" in L.mounts:
            self.blk = L.path("blkio", self.name)
            self._mkdir(self.blk)
        self.frz = None
        if self.freezer:
            self.frz = L.path("freezer", self.name)
            self._mkdir(self.frz)

    def add_victim(self, pid: int) -> None:
        for d in (self.mem, self.blk, self.frz):
            if d:
                _write(os.path.join(d, "cgroup.procs"), str(pid))

    def add_trigger(self, pid: int) -> None:
        for d in (self.mem, self.blk):
            if d:
                _write(os.path.join(d, "cgroup.procs"), str(pid))

    def add_helper(self, pid: int) -> None:
        """A helper whose reads must be throttled, outside the memory cgroup."""
        _write(os.path.join(self.blk, "cgroup.procs"), str(pid))

    def throttle_read(self, dev: str, iops: int | None, bps: int | None = None) -> None:
        if iops:
            f = os.path.join(self.blk, "blkio.throttle.read_iops_device")
            _write(f, f"{dev} {iops}")
            self.throttled.append((f, dev))
        if bps:
            f = os.path.join(self.blk, "blkio.throttle.read_bps_device")
            _write(f, f"{dev} {bps}")
            self.throttled.append((f, dev))

    def lift_throttle(self) -> int:
        for f, dev in list(self.throttled):
            retry(lambda: _write(f, lift_line(f, dev)), f"lift {f}")
            self.throttled.remove((f, dev))
        return 0

    def freeze(self) -> None:
        _write(os.path.join(self.frz, "freezer.state"), "FROZEN")

    def frozen_state(self) -> str:
        return _read(os.path.join(self.frz, "freezer.state")).strip()

    def is_frozen(self) -> bool:
        return self.frozen_state() == "FROZEN"

    def thaw(self) -> None:
        if self.frz and os.path.isdir(self.frz):
            retry(lambda: _write(os.path.join(self.frz, "freezer.state"), "THAWED"), "thaw")

    @property
    def usage_file(self) -> str:
        return os.path.join(self.mem, "memory.usage_in_bytes")

    def oom_kill_count(self) -> int | None:
        return parse_keyed(_read(os.path.join(self.mem, "memory.oom_control"))).get("oom_kill")

    def stat(self) -> dict[str, int]:
        return parse_keyed(_read(os.path.join(self.mem, "memory.stat")))

    def files(self) -> dict[str, str]:
        out = {"memory": self.mem}
        if self.blk:
            out["blkio"] = self.blk
        if self.frz:
            out["freezer"] = self.frz
        return out


class CgroupV2(RunCgroups):
    version = 2

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.enabled_in_own: list[str] = []

    def _enable_controllers(self, d: str, ctrls: list[str], record: bool) -> None:
        sub = os.path.join(d, "cgroup.subtree_control")
        have = _read(sub).split() if os.path.exists(sub) else []
        want = [c for c in ctrls if c not in have]
        if not want:
            return
        try:
            _write(sub, " ".join("+" + c for c in want))
        except OSError as e:
            if e.errno == errno.EBUSY:
                raise Refused(f"cannot enable {'/'.join(want)} in {d}/cgroup.subtree_control (EBUSY: the collector's own cgroup "
                              "has processes; run it in a delegated cgroup, e.g. systemd-run --scope -p Delegate=yes)")
            raise
        if record:
            self.enabled_in_own = want

    def create(self, limit_bytes: int, swap_bytes: int = 0) -> None:
        own = self.layout.path("")
        self._enable_controllers(own, ["memory", "io"], record=True)
        self.run = os.path.join(own, self.name)
        self._mkdir(self.run)
        _write(os.path.join(self.run, "memory.max"), str(limit_bytes))
        swap = os.path.join(self.run, "memory.swap.max")
        if os.path.exists(swap):
            _write(swap, "0")
        elif swap_bytes:
            raise Refused("swap exists but memory.swap.max is missing: cannot bound the victim's swap")
        self.victim = os.path.join(self.run, "victim")
        self._mkdir(self.victim)
        self.trig = None
        if self.trigger:
            self.trig = os.path.join(self.run, "trigger")
            self._mkdir(self.trig)
        self.mem = self.run
        self.frz = None
        if self.freezer and "freezer" in self.layout.mounts:
            self.frz = self.layout.path("freezer", self.name)
            self._mkdir(self.frz)

    def add_victim(self, pid: int) -> None:
        _write(os.path.join(self.victim, "cgroup.procs"), str(pid))
        if self.frz:
            _write(os.path.join(self.frz, "cgroup.procs"), str(pid))

    def add_trigger(self, pid: int) -> None:
        _write(os.path.join(self.trig, "cgroup.procs"), str(pid))

    def add_helper(self, pid: int) -> None:
        """A helper whose reads must be throttled: the ``trigger`` leaf (io.max is on the run's subtree;
        its memory is charged to the run's memcg too, so the collector sets its oom_score_adj to -1000)."""
        _write(os.path.join(self.trig, "cgroup.procs"), str(pid))

    #: io.max rejects riops/rbps values below 2 (EINVAL: blk-throttle.c:tg_set_limit takes ``val > 1``), unlike
    #: v1's blkio.throttle.* files, which take 1
    IO_MAX_MIN = 2

    def throttle_read(self, dev: str, iops: int | None, bps: int | None = None) -> None:
        f = os.path.join(self.run, "io.max")
        line = (f"{dev}" + (f" riops={max(iops, self.IO_MAX_MIN)}" if iops else "")
                + (f" rbps={max(bps, self.IO_MAX_MIN)}" if bps else ""))
        _write(f, line)
        self.io_max_line = line
        self.throttled.append((f, dev))

    def lift_throttle(self) -> int:
        for f, dev in list(self.throttled):
            retry(lambda: _write(f, lift_line(f, dev)), f"lift {f}")
            self.throttled.remove((f, dev))
        return 0

    def freeze(self) -> None:
        if getattr(self, "frz", None):
            return CgroupV1.freeze(self)
        _write(os.path.join(self.victim, "cgroup.freeze"), "1")

    def frozen_state(self) -> str:
        if getattr(self, "frz", None):
            return CgroupV1.frozen_state(self)
        ev = parse_keyed(_read(os.path.join(self.victim, "cgroup.events")))
        return "FROZEN" if ev.get("frozen") == 1 else "FREEZING" if _read(os.path.join(self.victim, "cgroup.freeze")).strip() == "1" else "THAWED"

    def is_frozen(self) -> bool:
        return self.frozen_state() == "FROZEN"

    def thaw(self) -> None:
        if getattr(self, "frz", None):
            return CgroupV1.thaw(self)
        f = os.path.join(self.victim, "cgroup.freeze")
        if os.path.exists(f):
            retry(lambda: _write(f, "0"), "thaw")

    @property
    def usage_file(self) -> str:
        return os.path.join(self.run, "memory.current")

    def oom_kill_count(self) -> int | None:
        return parse_keyed(_read(os.path.join(self.run, "memory.events"))).get("oom_kill")

    def stat(self) -> dict[str, int]:
        return parse_keyed(_read(os.path.join(self.run, "memory.stat")))

    def files(self) -> dict[str, str]:
        out = {"unified": self.run}
        if getattr(self, "frz", None):
            out["freezer"] = self.frz  # a v1 freezer hierarchy beside cgroup2 (hybrid)
        if getattr(self, "io_max_line", None):
            out["io.max"] = self.io_max_line  # what was written (riops >= 2)
        if self.enabled_in_own:
            out["controllers_enabled_in_own_cgroup"] = " ".join(self.enabled_in_own)
        return out

    def remove(self) -> list[str]:
        # Controllers this run enabled in the own cgroup's subtree_control stay enabled: disabling
        # them again could strip the memory/io controller from a sibling created meanwhile.
        return super().remove()


def make(layout: Layout, name: str, **kw) -> RunCgroups:
    if layout.version == 1:
        return CgroupV1(layout, name, **kw)
    if layout.version == 2:
        return CgroupV2(layout, name, **kw)
    raise Refused("; ".join(layout.problems) or "no usable cgroup setup")


def limits_above(layout: Layout) -> list[tuple[str, int, int]]:
    """(cgroup dir, limit, usage) of the own memory cgroup and its ancestors that have a limit."""
    out = []
    if layout.version == 1:
        mount = layout.root.rstrip("/") + layout.mounts["memory"]
        rel = layout.own["memory"]
        lim_f, use_f = "memory.limit_in_bytes", "memory.usage_in_bytes"
    elif layout.version == 2:
        mount = layout.root.rstrip("/") + layout.mounts[""]
        rel = layout.own[""]
        lim_f, use_f = "memory.max", "memory.current"
    else:
        return out
    parts = [p for p in rel.split("/") if p]
    for i in range(len(parts), -1, -1):
        d = os.path.join(mount, *parts[:i])
        try:
            raw = _read(os.path.join(d, lim_f)).strip()
            use = int(_read(os.path.join(d, use_f)).strip())
        except (OSError, ValueError):
            continue
        if raw == "max":
            continue
        lim = int(raw)
        if lim >= (1 << 62):
            continue
        out.append((d, lim, use))
    return out
