"""oomnb collect against a fake sysfs tree: refusals and error paths, cgroup v1/v2 logic."""

from __future__ import annotations

import errno
import os

import pytest

from oomnb import cli
from oomnb.collect import cgroups as cgm
from oomnb.collect import runner
from oomnb.collect.tracefs import TraceInstance, find_tracefs
from oomnb.errors import OomnbError, Refused


def _w(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_root(tmp_path, *, v=1, blkio=True, freezer=True, memory=True, v2_ctrls="cpu io memory pids",
              avail_kib=24_000_000, panic_on_oom=0, tracefs=True, own_limit=None):
    r = str(tmp_path)
    mounts, cg = [], []
    if v == 1:
        if memory:
            mounts.append("cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0")
            cg.append("4:memory:/sess")
            _w(f"{r}/sys/fs/cgroup/memory/sess/memory.limit_in_bytes", str(own_limit or 9223372036854771712))
            _w(f"{r}/sys/fs/cgroup/memory/sess/memory.usage_in_bytes", str(100 << 20))
        if blkio:
            mounts.append("cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0")
            cg.append("7:blkio:/")
            _w(f"{r}/sys/fs/cgroup/blkio/blkio.throttle.read_iops_device")
        if freezer:
            mounts.append("cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0")
            cg.append("6:freezer:/")
            os.makedirs(f"{r}/sys/fs/cgroup/freezer", exist_ok=True)
        cg.append("0::/")
    else:
        mounts.append("cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0")
        cg.append("0::/user.slice/oomnb-test.scope")
        own = f"{r}/sys/fs/cgroup/user.slice/oomnb-test.scope"
        _w(f"{own}/cgroup.controllers", v2_ctrls)
        _w(f"{own}/cgroup.subtree_control", "")
        _w(f"{own}/memory.max", str(own_limit) if own_limit else "max")
        _w(f"{own}/memory.current", str(100 << 20))
    _w(f"{r}/proc/self/mounts", "\n".join(mounts) + "\n")
    _w(f"{r}/proc/self/cgroup", "\n".join(cg) + "\n")
    _w(f"{r}/proc/meminfo", f"MemTotal:       24683656 kB\nMemAvailable:   {avail_kib} kB\nSwapTotal:             0 kB\n")
    _w(f"{r}/proc/sys/vm/panic_on_oom", str(panic_on_oom))
    _w(f"{r}/proc/sys/fs/aio-max-nr", "65536")
    _w(f"{r}/dev/kmsg")
    _w(f"{r}/dev/loop-control")
    if tracefs:
        os.makedirs(f"{r}/sys/kernel/tracing/events/oom", exist_ok=True)
        os.makedirs(f"{r}/sys/kernel/tracing/instances", exist_ok=True)
    else:
        os.makedirs(f"{r}/sys/kernel/tracing", exist_ok=True)
    return r


# -- refusals ---------------------------------------------------------------------------------------

def test_fake_v1_ok_has_no_problems(tmp_path):
    r = fake_root(tmp_path)
    env = runner.preflight(["aio-blocked", "frozen-victim"], [256 << 20], root=r, euid=0, mount_tracefs=False)
    assert env.problems == [], env.problems
    assert env.layout.version == 1 and env.layout.own["memory"] == "/sess"


def test_refusals_one_line_each(tmp_path):
    r = fake_root(tmp_path, blkio=False, freezer=False, tracefs=False, avail_kib=1_000_000, panic_on_oom=2)
    env = runner.preflight(["aio-blocked", "frozen-victim"], [1 << 30], root=r, euid=1000, mount_tracefs=False)
    text = "\n".join(env.problems)
    assert "not root" in text
    assert "no real tracefs" in text  # a sandboxed kernel without tracefs is refused
    assert "blkio" in text
    assert "freezer" in text
    assert "MemAvailable" in text
    assert "panic_on_oom=2" in text
    assert all("\n" not in p for p in env.problems)


def test_no_memory_controller_refused(tmp_path):
    r = fake_root(tmp_path, memory=False, blkio=False, freezer=False)
    env = runner.preflight(["fast-exit"], [256 << 20], root=r, euid=0, mount_tracefs=False)
    assert any("no memory cgroup controller" in p for p in env.problems)


def test_tracefs_without_oom_events_refused(tmp_path):
    r = fake_root(tmp_path, tracefs=False)
    os.makedirs(f"{r}/sys/kernel/tracing/instances")
    path, why, mounted = find_tracefs(r, mount_if_empty=False)
    assert path is None and "no events/oom" in why and not mounted


def test_ancestor_limit_refused(tmp_path):
    r = fake_root(tmp_path, own_limit=512 << 20)
    env = runner.preflight(["fast-exit"], [512 << 20], root=r, euid=0, mount_tracefs=False)
    assert any("ancestor memory cgroup" in p for p in env.problems)


def test_v2_missing_io_refused(tmp_path):
    r = fake_root(tmp_path, v=2, v2_ctrls="cpu memory pids")
    env = runner.preflight(["aio-blocked"], [256 << 20], root=r, euid=0, mount_tracefs=False)
    assert env.layout.version == 2
    assert any("io controller" in p for p in env.problems)


def test_cli_refuses_with_exit_3(tmp_path, monkeypatch, capsys):
    r = fake_root(tmp_path, blkio=False)
    real = runner.preflight
    monkeypatch.setattr(runner, "preflight", lambda s, l, **kw: real(s, l, root=r, euid=1000, mount_tracefs=False))
    rc = cli.main(["collect", "--scenario", "aio-blocked", "--limit", "128M", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 3
    assert "refused: not root" in err and "refused: no cgroup v1 blkio" in err
    assert not (tmp_path / "out").exists()


def test_cli_dry_run_prints_plan(tmp_path, monkeypatch, capsys):
    r = fake_root(tmp_path)
    real = runner.preflight
    monkeypatch.setattr(runner, "preflight", lambda s, l, **kw: real(s, l, root=r, euid=0, mount_tracefs=False))
    rc = cli.main(["collect", "--scenario", "aio-blocked,fast-exit", "--limit", "256M,1G", "--runs", "2",
                   "--out", str(tmp_path / "out"), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "plan: 8 run(s)" in out and "cleanup on every exit path" in out
    assert not (tmp_path / "out").exists()


def test_bad_arguments(capsys):
    assert cli.main(["collect", "--scenario", "nope", "--out", "x"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    with pytest.raises(OomnbError):
        runner.parse_size("12X")
    assert runner.parse_size("1G") == 1 << 30 and runner.size_label(256 << 20) == "256M"


# -- cgroup backends ---------------------------------------------------------------------------------

def test_v1_create_throttle_freeze_remove(tmp_path):
    r = fake_root(tmp_path)
    lay = cgm.detect(r, need_freezer=True)
    cg = cgm.make(lay, "oomnb-1-t", freezer=True)
    cg.create(256 << 20)
    assert open(os.path.join(cg.mem, "memory.limit_in_bytes")).read() == str(256 << 20)
    assert cg.mem == f"{r}/sys/fs/cgroup/memory/sess/oomnb-1-t"
    cg.throttle_read("7:3", 1, 262144)
    assert open(os.path.join(cg.blk, "blkio.throttle.read_iops_device")).read() == "7:3 1"
    cg.lift_throttle()
    assert open(os.path.join(cg.blk, "blkio.throttle.read_iops_device")).read() == "7:3 0"
    assert open(os.path.join(cg.blk, "blkio.throttle.read_bps_device")).read() == "7:3 0"
    cg.freeze()
    assert cg.frozen_state() == "FROZEN"
    cg.thaw()
    assert cg.frozen_state() == "THAWED"
    for d in cg.files().values():  # the kernel's files do not block rmdir; the fake's do
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    assert len(cg.remove()) == 3 and not os.path.exists(cg.mem)


def test_v1_swap_without_memsw_refused(tmp_path):
    r = fake_root(tmp_path)
    cg = cgm.make(cgm.detect(r), "oomnb-1-s")
    with pytest.raises(Refused, match="memsw"):
        cg.create(256 << 20, swap_bytes=1 << 30)


def test_names_must_carry_oomnb(tmp_path):
    r = fake_root(tmp_path)
    with pytest.raises(ValueError):
        cgm.make(cgm.detect(r), "victim")
    with pytest.raises(ValueError):
        TraceInstance(f"{r}/sys/kernel/tracing", "mine")


def test_v2_create_throttle_freeze_remove(tmp_path):
    r = fake_root(tmp_path, v=2)
    lay = cgm.detect(r)
    assert lay.version == 2 and lay.problems == []
    cg = cgm.make(lay, "oomnb-2-t", trigger=True)
    cg.create(1 << 30)
    own = lay.path("")
    assert open(f"{own}/cgroup.subtree_control").read() == "+memory +io"
    assert open(f"{cg.run}/memory.max").read() == str(1 << 30)
    assert cg.usage_file == f"{cg.run}/memory.current"
    cg.throttle_read("7:0", 1, 262144)
    # a real kernel's io.max rejects riops=1 (EINVAL); the v2 backend writes 2
    assert open(f"{cg.run}/io.max").read() == "7:0 riops=2 rbps=262144"
    assert cg.files()["io.max"] == "7:0 riops=2 rbps=262144"
    cg.lift_throttle()
    assert open(f"{cg.run}/io.max").read() == "7:0 riops=max rbps=max"
    cg.add_victim(123)
    cg.add_trigger(124)
    assert open(f"{cg.victim}/cgroup.procs").read() == "123" and open(f"{cg.trig}/cgroup.procs").read() == "124"
    cg.freeze()
    assert open(f"{cg.victim}/cgroup.freeze").read() == "1"
    _w(f"{cg.victim}/cgroup.events", "populated 1\nfrozen 1\n")
    assert cg.is_frozen()
    cg.thaw()
    assert open(f"{cg.victim}/cgroup.freeze").read() == "0"
    _w(f"{cg.run}/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cg.oom_kill_count() == 1
    for d in (cg.victim, cg.trig, cg.run):
        for f in os.listdir(d):
            if os.path.isfile(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))
    cg.remove()
    assert not os.path.exists(cg.run)
    assert open(f"{own}/cgroup.subtree_control").read() == "+memory +io"  # left enabled (siblings may use it)


def test_v2_internal_process_refused_in_preflight(tmp_path):
    r = fake_root(tmp_path, v=2)
    _w(f"{r}/sys/fs/cgroup/user.slice/oomnb-test.scope/cgroup.procs", "4242\n")
    env = runner.preflight(["fast-exit"], [256 << 20], root=r, euid=0, mount_tracefs=False)
    assert any("no internal processes" in p and "Delegate=yes" in p for p in env.problems)


def test_v2_busy_subtree_control_refused(tmp_path, monkeypatch):
    r = fake_root(tmp_path, v=2)
    lay = cgm.detect(r)
    real = cgm._write

    def busy(path, text):
        if path.endswith("cgroup.subtree_control"):
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real(path, text)
    monkeypatch.setattr(cgm, "_write", busy)
    cg = cgm.make(lay, "oomnb-2-b")
    with pytest.raises(Refused, match="delegated cgroup"):
        cg.create(256 << 20)
    assert cg.created == []


def test_rmdir_busy_is_retried_and_reported(tmp_path, monkeypatch):
    r = fake_root(tmp_path)
    cg = cgm.make(cgm.detect(r), "oomnb-1-busy")
    cg.create(256 << 20)
    calls = []

    def rmdir(p):
        calls.append(p)
        raise OSError(errno.EBUSY, "Device or resource busy")
    monkeypatch.setattr(cgm.os, "rmdir", rmdir)
    monkeypatch.setattr(cgm.time, "sleep", lambda s: None)
    with pytest.raises(OomnbError, match="rmdir .*oomnb-1-busy.*busy"):
        cg.remove()
    assert len(calls) >= 10  # every directory retried
    assert cg.created  # still recorded as present, not silently dropped


# -- cleanup ordering ----------------------------------------------------------------------------------

def test_cleanup_runs_in_fixed_order_and_reports_failures(monkeypatch):
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    c = runner.Cleanup()
    seen = []
    c.add("remove trace instance", lambda: seen.append("instance"))
    c.add("remove cgroups", lambda: (_ for _ in ()).throw(OSError(errno.EBUSY, "busy")))
    c.add("lift throttles", lambda: seen.append("lift"))
    c.add("wait for victim exit", lambda: seen.append("victim"))
    c.add("close trace readers", lambda: seen.append("readers"))
    rep = dict(c.run())
    assert seen == ["lift", "victim", "readers", "instance"]
    assert rep["remove cgroups"].startswith("FAILED") and "busy" in rep["remove cgroups"]
    assert rep["detach loop device"] == "nothing to do"
    assert not c.ok() and "remove cgroups FAILED" in c.line()
    assert [k for k, _ in c.report] == list(runner.CLEANUP_ORDER)


def test_filter_pids_expression(tmp_path):
    r = fake_root(tmp_path)
    inst = TraceInstance(f"{r}/sys/kernel/tracing", "oomnb-x")
    _w(inst.p("events", "sched", "sched_process_exit", "filter"), "none")
    inst.filter_pids("sched/sched_process_exit", [12, 10, 12])
    assert open(inst.p("events", "sched", "sched_process_exit", "filter")).read() == "pid == 10 || pid == 12"


def test_v2_with_v1_freezer_hybrid(tmp_path):
    """cgroup2 for memory/io plus a v1 freezer hierarchy: frozen-victim freezes with freezer.state (the
    refrigerator), not cgroup.freeze (the signal-based v2 freezer)."""
    r = fake_root(tmp_path, v=2)
    with open(f"{r}/proc/self/mounts", "a") as f:
        f.write("freezer /run/oomnb-freezer cgroup rw,relatime,freezer 0 0\n")
    with open(f"{r}/proc/self/cgroup", "a") as f:
        f.write("3:freezer:/\n")
    os.makedirs(f"{r}/run/oomnb-freezer", exist_ok=True)
    lay = cgm.detect(r, need_freezer=True)
    assert lay.version == 2 and lay.problems == [] and lay.mounts["freezer"] == "/run/oomnb-freezer"
    cg = cgm.make(lay, "oomnb-3-t", freezer=True, trigger=True)
    cg.create(1 << 30)
    assert cg.frz == f"{r}/run/oomnb-freezer/oomnb-3-t"
    cg.add_victim(123)
    assert open(f"{cg.frz}/cgroup.procs").read() == "123" and open(f"{cg.victim}/cgroup.procs").read() == "123"
    cg.freeze()
    assert open(f"{cg.frz}/freezer.state").read() == "FROZEN" and not os.path.exists(f"{cg.victim}/cgroup.freeze")
    assert cg.is_frozen() and cg.files()["freezer"] == cg.frz
    cg.thaw()
    assert open(f"{cg.frz}/freezer.state").read() == "THAWED"
    for d in (cg.frz, cg.victim, cg.trig, cg.run):
        for x in os.listdir(d):
            if os.path.isfile(os.path.join(d, x)):
                os.unlink(os.path.join(d, x))
    cg.remove()
    assert not os.path.exists(cg.frz) and not os.path.exists(cg.run)
