"""The data sets recorded inside QEMU guests (data/qemu*): manifests, recording metadata, one episode per
victim, and the per-thread readings (frozen-victim, suspend-dstate) against the collector's own observations."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from oomnb import trace
from oomnb.collect import threads

DATA = Path(__file__).resolve().parents[1] / "data"
SETS = sorted(p.name for p in DATA.glob("qemu*") if (p / "machine.json").exists())


def test_sets_present():
    assert {"qemu2-cgroup1-linux6.1", "qemu2-cgroup2-linux6.12", "qemu2-cgroup1-linux6.18"} <= set(SETS)


@pytest.fixture(scope="module", params=SETS)
def qset(request):
    d = DATA / request.param
    return d, json.loads((d / "machine.json").read_text())


def test_manifest(qset):
    d, _ = qset
    listed = dict(reversed(line.split("  ", 1)) for line in (d / "manifest.sha256").read_text().splitlines())
    files = {p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != "manifest.sha256"}
    assert set(listed) == files
    for name, h in listed.items():
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() == h, name


def test_recording_metadata(qset):
    d, m = qset
    # a patched kernel's set carries its local version (patches/build-kernel.sh --localversion) in the name
    lab = re.fullmatch(r"qemu(\d+)-cgroup([12])-linux(\d+\.\d+)(-[a-z0-9-]+)?", d.name)
    assert lab, d.name
    assert not lab[4] or m["kernel_release"].endswith(lab[4]), d.name
    rec = m["recording"]
    assert rec["host"]["accelerator"] == "tcg" and rec["host"]["vcpus"] == int(lab[1]) == m["cpus"]
    assert rec["hierarchy"]["version"] == int(lab[2]) == m["cgroup_version"]   # verified inside the guest
    assert m["kernel_release"].startswith(lab[3] + ".") and rec["guest"]["kernel_release"] == m["kernel_release"]
    cfg = m["metadata"]["kernel_config"]["values"]
    for k in ("CONFIG_HZ", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS", "CONFIG_PM_DEBUG"):
        assert cfg[k] is not None, k
    assert rec["boots"] and all(b["wall_s"] > 0 and b["runs"] for b in rec["boots"])
    assert "QEMU TCG guest" in m["description"]
    assert not any("/work/" in json.dumps(b) for b in rec["boots"])
    for r in sorted(p.parent for p in d.glob("*/meta.json")):
        meta = json.loads((r / "meta.json").read_text())
        assert meta["recording"]["accelerator"] == "tcg" and meta["recording"]["cgroup_hierarchy_verified"] == int(lab[2])
        assert meta["kernel_release"] == m["kernel_release"] and meta["machine"] == d.name
        assert r.name == f"{meta['scenario']}-{meta['limit_bytes'] >> 20}M-{meta['run']}"


def test_one_episode_per_victim(qset):
    d, _ = qset
    ep = trace.load(str(d)).df_episodes()
    marked = set()
    for r in d.glob("*/trace.txt"):
        marked |= {(r.parent.name, int(p)) for p in re.findall(r"mark_victim: pid=(\d+)", r.read_text())}
    assert sorted(zip(ep.run, ep.pid.astype(int))) == sorted(marked)
    for r in d.glob("*/meta.json"):
        meta = json.loads(r.read_text())
        assert set(meta["victim_pids"]) <= set(ep.pid[ep.run == r.parent.name].astype(int))


def test_frozen_victim_thread_exits_agree_with_the_sampler():
    """The trace's per-thread exits (threads.frozen_victim_table) against the collector's own record of a victim
    that had not exited when it thawed the cgroup (meta.json frozen_observation, from /proc)."""
    tab = threads.frozen_victim_table([DATA / s for s in SETS])
    assert len(tab) >= 4
    for r in tab.itertuples():
        meta = json.loads((DATA / r.machine / r.run / "meta.json").read_text())
        blocked = meta["frozen_observation"]["exit_blocked_until_thaw"]
        assert blocked == (not r.whole_process_thawed_by_kill), r.run
        assert r.leader_exit_after_kill_ms is not None and r.leader_exit_after_kill_ms < 1000
        if blocked:
            assert r.other_threads_exit_after_kill_ms >= r.collector_thaw_after_kill_s * 1e3
            states = meta["frozen_observation"]["threads_when_thawed"]
            assert states[str(r.pid)] == "Z" and all(v == "D" for t, v in states.items() if t != str(r.pid))
    # the refrigerator (v1 freezer.state): before 6.18 mark_oom_victim thaws only the thread it is called on;
    # the v2 freezer is a job-control stop that SIGKILL ends on every version (cgroup-v2.rst)
    v1 = tab[tab.freezer.str.startswith("v1")]
    # release as major.minor plus a patched kernel's local version: 6.1, 6.12, 6.18, 6.18-tif-exempt, ...
    key = v1.kernel_release.str.replace(r"^(\d+\.\d+)[.\d]*(?:\+deb\S*|-\d+-amd64)?", r"\1", regex=True)
    by_kernel = {k: set(g.whole_process_thawed_by_kill) for k, g in v1.groupby(key)}
    assert by_kernel["6.1"] == {False} and by_kernel["6.12"] == {False} and by_kernel["6.18"] == {True}
    # the candidate fixes of patches/: per-group oom_victims keeps the whole-group thaw, the TIF_MEMDIE-only
    # freezer exemption lets the thawed sibling freeze again (as before 6.18)
    assert by_kernel.get("6.18-group-oom-victims", {True}) == {True}
    assert by_kernel.get("6.18-tif-exempt", {False}) == {False}
    assert set(tab[tab.freezer.str.startswith("v2")].whole_process_thawed_by_kill) == {True}


def test_suspend_runs_agree_with_the_kernel_log():
    """suspend-dstate: the freezer window from power:suspend_resume against the kernel log's own account
    (`Freezing user space processes completed (elapsed N seconds)`, `OOM killer disabled.`) and meta.json."""
    tab = threads.suspend_table([DATA / s for s in SETS])
    assert len(tab) >= 4 and set(tab.result) == {"ok"}
    for r in tab.itertuples():
        d = DATA / r.machine / r.run
        kmsg = (d / "kmsg.txt").read_text()
        el = re.search(r";Freezing user space processes completed \(elapsed (\d+\.\d+) seconds\)", kmsg)
        assert el, r.run
        # user space freezing is most of freeze_processes (then oom_killer_disable, a few ms under TCG, unless
        # it waits for the victim's last thread to exit, as with per-group oom_victims)
        x = threads.thread_exits(d)
        fb = next(t for t, p in x["suspend_phases"] if p.startswith("freeze_processes") and p.endswith(" begin"))
        wait = max(0.0, (r.other_exit_after_kill_s or 0) - fb - float(el[1]))
        assert 0 <= r.freeze_processes_s - float(el[1]) < 0.25 + wait, (r.run, r.freeze_processes_s, el[1])
        assert ";OOM killer disabled." in kmsg and ";OOM killer enabled." in kmsg
        meta = json.loads((d / "meta.json").read_text())
        start = meta["suspend"]["threads_at_start"]
        assert start[str(meta["victim_pids"][0])]["state"] == "Z"     # the killed leader, already exited
        others = [v for t, v in start.items() if int(t) != meta["victim_pids"][0]]
        assert others and all(v["state"] == "D" for v in others)      # the reader thread, in its O_DIRECT read
        assert r.freeze_end_after_kill_s < r.thaw_begin_after_kill_s
