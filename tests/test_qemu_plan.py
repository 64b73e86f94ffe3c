"""oomnb collect --kernel-image: kernel resolution, the plan, the dry run, the guest's annotations,
the host's process session. Nothing here boots a kernel (see data/README.md for the commands that do)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from oomnb import cli
from oomnb.collect import qemu, qemu_guest
from oomnb.errors import OomnbError, Refused

CONFIG = """\
CONFIG_HZ=250
CONFIG_PREEMPT_VOLUNTARY=y
# CONFIG_PREEMPT is not set
CONFIG_MEMCG=y
# CONFIG_MEMCG_V1 is not set
CONFIG_CGROUP_FREEZER=y
CONFIG_BLK_DEV_THROTTLING=y
CONFIG_FTRACE=y
CONFIG_PM_DEBUG=y
CONFIG_TRANSPARENT_HUGEPAGE_MADVISE=y
CONFIG_NET_9P_VIRTIO=m
CONFIG_9P_FS=m
"""


def fake_bzimage(path, release="6.12.111+deb12-amd64", header=True):
    """A file with a bzImage setup header whose kernel_version field points at ``release``."""
    buf = bytearray(0x1000)
    if header:
        buf[0x202:0x206] = b"HdrS"
        buf[0x20E:0x210] = (0x600 - 0x200).to_bytes(2, "little")
        s = f"{release} (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC".encode()
        buf[0x600:0x600 + len(s)] = s
    path.write_bytes(bytes(buf))
    return path


@pytest.fixture
def boot_dir(tmp_path):
    d = tmp_path / "boot"
    d.mkdir()
    fake_bzimage(d / "vmlinuz-6.12.111+deb12-amd64")
    fake_bzimage(d / "vmlinuz-6.12.9+deb12-amd64", "6.12.9+deb12-amd64")
    (d / "config-6.12.111+deb12-amd64").write_text(CONFIG)
    fake_bzimage(d / "vmlinuz-6.1.0-57-amd64", "6.1.0-57-amd64")
    (d / "config-6.1.0-57-amd64").write_text(CONFIG.replace("# CONFIG_MEMCG_V1 is not set\n", ""))
    return d


def test_parse_config_not_set():
    c = qemu.parse_config(CONFIG)
    assert c["CONFIG_HZ"] == "250" and c["CONFIG_MEMCG_V1"] == "n" and c["CONFIG_PREEMPT"] == "n"
    assert "CONFIG_AIO" not in c


def test_bzimage_release(tmp_path):
    assert qemu.bzimage_release(str(fake_bzimage(tmp_path / "a", "6.18.35"))) == "6.18.35"
    assert qemu.bzimage_release(str(fake_bzimage(tmp_path / "b", header=False))) is None
    assert qemu.bzimage_release(str(tmp_path / "missing")) is None


def test_resolve_debian_newest_and_config(boot_dir):
    k = qemu.resolve_kernel("debian:6.12", boot_dir=str(boot_dir))
    assert k.image.endswith("vmlinuz-6.12.111+deb12-amd64")   # 111 > 9 (version order, not text order)
    assert k.release == "6.12.111+deb12-amd64" and k.major_minor == "6.12"
    assert k.config_path.endswith("config-6.12.111+deb12-amd64")
    assert k.config["CONFIG_PM_DEBUG"] == "y" and k.config["CONFIG_MEMCG_V1"] == "n"
    assert qemu.label(k, 2) == "qemu2-cgroup2-linux6.12"
    k1 = qemu.resolve_kernel("debian:6.1", boot_dir=str(boot_dir))
    assert k1.release == "6.1.0-57-amd64" and k1.config["CONFIG_MEMCG_V1"] is None


def test_resolve_refusals(tmp_path, boot_dir):
    with pytest.raises(Refused, match="apt-get install linux-image-6.1"):
        qemu.resolve_kernel("debian:6.1", boot_dir=str(tmp_path))
    with pytest.raises(OomnbError, match="known: debian:6.1"):
        qemu.resolve_kernel("debian:5.10", boot_dir=str(boot_dir))
    with pytest.raises(Refused, match="no such file"):
        qemu.resolve_kernel(str(tmp_path / "nope"))
    with pytest.raises(Refused, match="not a bzImage"):
        qemu.resolve_kernel(str(fake_bzimage(tmp_path / "x", header=False)))


def test_image_path_config_beside(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    fake_bzimage(d / "bzImage", "6.18.35")
    (d / "config").write_text(CONFIG.replace("# CONFIG_MEMCG_V1 is not set", "CONFIG_MEMCG_V1=y"))
    k = qemu.resolve_kernel(str(d / "bzImage"))
    assert k.release == "6.18.35" and k.config["CONFIG_MEMCG_V1"] == "y" and k.source == "image file"
    with pytest.raises(Refused, match="--kernel-config"):
        qemu.resolve_kernel(str(d / "bzImage"), config=str(d / "missing"))


def test_plan_v2_and_v1_refusal(boot_dir, tmp_path):
    k = qemu.resolve_kernel("debian:6.12", boot_dir=str(boot_dir))
    p = qemu.build_plan(k, 2, ["frozen-victim"], [128 << 20], 1, str(tmp_path / "out"), ["--threads", "1"])
    assert p.problems == []
    argv = p.vng_argv("/x/vng", "/tmp/f.json")
    assert argv[:3] == ["/x/vng", "--run", k.image]
    assert "--disable-kvm" in argv and "--force-9p" in argv and f"--rwdir={tmp_path / 'out'}" in argv
    assert argv[argv.index("--append") + 1] == "cgroup_no_v1=all"
    assert argv[-2] == "--"
    guest = argv[-1]
    assert "-m oomnb.collect.qemu_guest --cgroup 2 --facts /tmp/f.json" in guest
    assert f"--out {tmp_path / 'out'} --threads 1" in guest
    p1 = qemu.build_plan(k, 1, ["fast-exit"], [128 << 20], 1, None, [])
    assert any("CONFIG_MEMCG_V1 is not set" in x for x in p1.problems)
    assert "--append" not in p1.vng_argv("vng", "f")
    assert p1.out.endswith(os.path.join("data", "qemu2-cgroup1-linux6.12"))
    big = qemu.build_plan(k, 2, ["fast-exit"], [1 << 30], 1, None, [], memory="2G")
    assert any("above a quarter" in x for x in big.problems)


def _dry(args, capsys):
    rc = cli.main(["collect", "--scenario", "fast-exit", "--limit", "128M", "--dry-run"] + args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_dry_run_what_this_machine_has(boot_dir, capsys):
    """Both outcomes a machine can show: with QEMU and vng the plan and exit 0, without them one line and 3."""
    image = str(boot_dir / "vmlinuz-6.12.111+deb12-amd64")
    rc, out, err = _dry(["--kernel-image", image, "--cgroup", "2"], capsys)
    assert "in QEMU TCG, 2 vCPUs, 2G" in out and "HZ=250" in out and "PM_DEBUG=y" in out
    have_tools = shutil.which("qemu-system-x86_64") is not None and qemu.find_vng() is not None
    if have_tools:
        assert rc == 0 and err == ""
    else:
        assert rc == 3
        assert len(err.strip().splitlines()) == 1 and "cannot boot:" in err and "not found" in err


def test_dry_run_without_qemu(boot_dir, capsys, monkeypatch):
    monkeypatch.setattr(qemu.shutil, "which", lambda name: None)
    monkeypatch.setattr(qemu, "find_vng", lambda: None)
    rc, out, err = _dry(["--kernel-image", str(boot_dir / "vmlinuz-6.12.111+deb12-amd64")], capsys)
    assert rc == 3
    assert err.strip().splitlines() == [err.strip()]
    assert "qemu-system-x86_64 not found (apt-get install qemu-system-x86)" in err and "vng (virtme-ng) not found" in err
    assert "would refuse: qemu-system-x86_64 not found" in out


def test_dry_run_kernel_refusal_one_line(boot_dir, capsys, monkeypatch):
    monkeypatch.setattr(qemu, "tool_problems", lambda: ([], {"qemu_version": "QEMU 7.2", "vng_version": "virtme-ng 1.42"}))
    rc, out, err = _dry(["--kernel-image", str(boot_dir / "vmlinuz-6.12.111+deb12-amd64"), "--cgroup", "1"], capsys)
    assert rc == 3 and "CONFIG_MEMCG_V1 is not set" in err and len(err.strip().splitlines()) == 1
    rc, out, err = _dry(["--kernel-image", str(boot_dir / "nothing")], capsys)
    assert rc == 3 and err.startswith("oomnb collect: error: ") and "no such file" in err and "Traceback" not in err


def test_guest_annotate_keeps_boots(tmp_path):
    out = tmp_path / "set"
    (out / "old-run").mkdir(parents=True)
    (out / "old-run" / "meta.json").write_text(json.dumps({"caveats": []}))
    (out / "new-run").mkdir()
    (out / "new-run" / "meta.json").write_text(json.dumps({"caveats": ["x"]}))
    (out / "machine.json").write_text(json.dumps({"caveats": [], "metadata": {"kernel_config": {"source": None}}}))
    rec = {"host": {"vcpus": 2, "memory": "2G", "qemu": "QEMU 7.2", "kernel_image_source": "debian package"},
           "guest": {"cpus": 2, "mem_total_kib": 2019124, "kernel_release": "6.12.111+deb12-amd64",
                     "kernel_config_source": "/boot/config-6.12.111+deb12-amd64", "kernel_config": {"CONFIG_HZ": "250"}},
           "hierarchy": {"version": 2}}
    new = qemu_guest.annotate(out, rec, {"boots": [{"wall_s": 50.0}]}, before={"old-run"})
    assert new == ["new-run"]
    m = json.loads((out / "machine.json").read_text())
    assert m["recording"]["boots"] == [{"wall_s": 50.0}] and m["recording"]["hierarchy"]["version"] == 2
    assert m["metadata"]["kernel_config"]["values"] == {"CONFIG_HZ": "250"}
    assert "QEMU TCG guest" in m["description"] and "Linux 6.12.111+deb12-amd64" in m["description"]
    assert qemu_guest.TCG_CAVEAT in m["caveats"]
    meta = json.loads((out / "new-run" / "meta.json").read_text())
    assert meta["recording"]["accelerator"] == "tcg" and meta["caveats"] == ["x", qemu_guest.TCG_CAVEAT]
    assert "recording" not in json.loads((out / "old-run" / "meta.json").read_text())


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_guest_stop_kills_the_whole_session(tmp_path):
    """What an interrupted boot does to vng and the QEMU it started: the whole session goes, even a child
    that ignores SIGTERM and outlives its parent."""
    inner = tmp_path / "inner.sh"
    inner.write_text("trap '' TERM\nsleep 60 &\necho $!\nwait\n")
    g = qemu.Guest(["sh", "-c", f"sh {inner} & echo $!; wait"], dict(os.environ), str(tmp_path / "log"))
    pids = [int(g.proc.stdout.readline()), int(g.proc.stdout.readline())]
    assert all(_alive(p) for p in pids)
    t0 = time.monotonic()
    g.stop(grace=0.5)
    time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    assert time.monotonic() - t0 < 15


def test_plan_hybrid_freezer(boot_dir):
    k = qemu.resolve_kernel("debian:6.12", boot_dir=str(boot_dir))
    p = qemu.build_plan(k, 2, ["frozen-victim"], [128 << 20], 1, None, [], freezer=1)
    assert p.problems == [] and p.append == ["cgroup_no_v1=memory,blkio"]
    assert "--cgroup 2 --facts f --freezer 1" in p.guest_command("f")
    assert qemu.build_plan(k, 2, ["frozen-victim"], [128 << 20], 1, None, [], freezer=2).freezer is None
    assert any("--freezer 2 needs --cgroup 2" in x for x in
               qemu.build_plan(k, 1, ["fast-exit"], [128 << 20], 1, None, [], freezer=2).problems)


def test_recorded_paths_are_public(tmp_path):
    assert qemu.public_path("/boot/vmlinuz-6.1.0-57-amd64") == "/boot/vmlinuz-6.1.0-57-amd64"
    assert qemu.public_path("/home/me/build/linux/arch/x86/boot/bzImage") == "bzImage"
    assert qemu.public_path("debian:6.12") == "debian:6.12"


def test_suspend_refused_outside_a_guest(tmp_path):
    from oomnb.collect import suspend
    host = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet"
    guest = "virtme_hostname=virtme-ng console=ttyS0 init=/x/virtme/guest/bin/virtme-ng-init"
    assert "never on this machine" in suspend.refusal(host)
    assert not suspend.in_qemu_guest(host) and suspend.in_qemu_guest(guest)
    assert "CONFIG_PM_DEBUG" in suspend.refusal(guest, root=str(tmp_path))
    (tmp_path / "sys/power").mkdir(parents=True)
    (tmp_path / "sys/power/pm_test").write_text("[none] core processors platform devices freezer\n")
    (tmp_path / "sys/power/state").write_text("freeze mem disk\n")
    assert suspend.refusal(guest, root=str(tmp_path)) is None


def test_suspend_dstate_refused_on_the_host_cli(capsys):
    rc = cli.main(["collect", "--scenario", "suspend-dstate", "--limit", "128M", "--out", "/nonexistent/x"])
    err = capsys.readouterr().err
    assert rc == 3 and "never on this machine" in err and len(err.strip().splitlines()) == 1


def test_block_device_checks(tmp_path):
    from oomnb.collect.suspend import BlockDevice
    with pytest.raises(Refused, match="not a block device"):
        BlockDevice(str(tmp_path)).create()
    with pytest.raises(Refused, match="No such file"):
        BlockDevice(str(tmp_path / "vda")).create()


def test_record_boot_has_no_machine_paths(boot_dir, tmp_path):
    k = qemu.resolve_kernel("debian:6.12", boot_dir=str(boot_dir))
    p = qemu.build_plan(k, 2, ["suspend-dstate"], [128 << 20], 1, str(tmp_path / "set"), ["--device", "/dev/vda"],
                        virtio_disk=True)
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "machine.json").write_text("{}")
    argv = p.vng_argv("/opt/venv/bin/vng", "/tmp/oomnb-qemu-abc/facts.json", "/tmp/oomnb-qemu-abc/oomnb-disk.img")
    qemu.record_boot(p.out, {"wall_s": 60.0, "new_runs": ["suspend-dstate-128M-0"], "argv": argv}, p)
    b = json.loads((tmp_path / "set" / "machine.json").read_text())["recording"]["boots"][0]
    assert b["vng"].startswith("vng --run ") and "file=oomnb-disk.img,if=virtio" in b["vng"]
    assert "/tmp/" not in json.dumps(b) and "--rwdir" not in b["vng"] and b["wall_s"] == 60.0
