"""A data set holds only its own run's victims; stale-object cleanup; opt-in
real-kernel tests.

The fake tests run anywhere; the concurrent collect (two real ``oomnb
collect`` runs at once) is marked integration and runs only when opted in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collect_helpers import OPT_IN, leftovers, real_machine_reason

ROOT = Path(__file__).resolve().parents[1]
KVM = ROOT / "data" / "kvm2-cgroup1-linux6.18"


# --- the trace is restricted to the run's processes ------------------------------------------------

def test_every_event_is_filtered_on_the_run_pids(tmp_path):
    from oomnb import events
    from oomnb.collect import tracefs
    inst = tracefs.TraceInstance(str(tmp_path), "oomnb-1-x")
    for e in tracefs.EVENTS:
        d = Path(inst.dir) / "events" / e
        d.mkdir(parents=True)
        (d / "filter").write_text("none\n")
    inst.filters = dict(tracefs.EXTRA_FILTER)
    got = inst.restrict_to([7, 5, 7])
    assert set(tracefs.EVENTS) == set(events.tracefs_paths())   # what the analyses declare
    assert set(got) == set(tracefs.EVENTS)
    for e in tracefs.EVENTS:
        text = (Path(inst.dir) / "events" / e / "filter").read_text()
        assert text.endswith("pid == 5 || pid == 7") or text.endswith("(pid == 5 || pid == 7)"), (e, text)
    assert got[events.event(events.SIGNAL_GENERATE).tracefs] == "(sig == 9) && (pid == 5 || pid == 7)"


def _run_with_foreign_kill(tmp_path, meta_update):
    run = tmp_path / "m" / "fast-exit-256M-0"
    shutil.copytree(KVM / "fast-exit-256M-0", run)
    shutil.copy(KVM / "machine.json", tmp_path / "m" / "machine.json")
    meta = json.loads((run / "meta.json").read_text())
    pid = meta["victim_pids"][0]
    kmsg = (run / "kmsg.txt").read_text().splitlines()
    kill = next(ln for ln in kmsg if f"Killed process {pid} " in ln)
    prefix, msg = kill.split(";", 1)
    p = prefix.split(",")
    p[2] = str(int(p[2]) + 500)   # half a millisecond later, another process of another memcg
    kmsg.append(",".join(p) + ";" + msg.replace(f"Killed process {pid} (oomnb-victim)",
                                                 "Killed process 4242 (stress-ng)"))
    (run / "kmsg.txt").write_text("\n".join(kmsg) + "\n")
    meta.update(meta_update(pid))
    (run / "meta.json").write_text(json.dumps(meta))
    return run, pid


def test_episodes_keep_foreign_kills_out(tmp_path):
    from oomnb.collect.runner import foreign_kills
    from oomnb.trace import load
    run, pid = _run_with_foreign_kill(tmp_path, lambda pid: {"run_pids": [pid]})
    fk = foreign_kills(run / "kmsg.txt", [pid])
    assert [(f["pid"], f["comm"]) for f in fk] == [(4242, "stress-ng")]
    ep = load([str(run)]).df_episodes()
    assert list(ep.pid) == [pid]


def test_older_metadata_keeps_every_pid(tmp_path):
    from oomnb.trace import load
    run, pid = _run_with_foreign_kill(tmp_path, lambda pid: {})
    ep = load([str(run)]).df_episodes()
    assert sorted(ep.pid) == sorted([pid, 4242])
    assert ep.set_index("pid").listed_victim.to_dict() == {pid: True, 4242: False}


# --- stale objects ------------------------------------------------------------------------------------

def test_stale_objects_already_gone_are_removed(tmp_path):
    from oomnb.collect import stale
    dead = 2 ** 22 + 12345   # above pid_max: never a live process
    found = {"cgroups": [str(tmp_path / f"cg/oomnb-{dead}-x")], "instances": [str(tmp_path / f"inst/oomnb-{dead}-x")],
             "backing": [str(tmp_path / f"oomnb-{dead}-x.img")], "loops": ["/dev/loop-oomnb-gone"]}
    log = []
    assert stale.remove(found, log.append) is True, log
    assert any("already gone" in m for m in log) and any("already detached" in m for m in log)


def test_stale_finds_dead_collectors_only(tmp_path):
    from oomnb.collect import stale
    inst = tmp_path / "instances"
    inst.mkdir()
    dead = 2 ** 22 + 12345
    live = os.getppid()
    for n in (f"oomnb-{dead}-a", f"oomnb-{live}-b", f"oomnb-{os.getpid()}-c", "other"):
        (inst / n).mkdir()
    (tmp_path / f"oomnb-{dead}-a.img").write_text("")
    (tmp_path / f"oomnb-{live}-b.img").write_text("")
    found = stale.find(None, str(tmp_path), tmpdir=str(tmp_path))
    assert [Path(p).name for p in found["instances"]] == [f"oomnb-{dead}-a"]
    assert [Path(p).name for p in found["backing"]] == [f"oomnb-{dead}-a.img"]
    assert stale.remove(found, lambda m: None) is True
    assert sorted(p.name for p in inst.iterdir()) == sorted([f"oomnb-{live}-b", f"oomnb-{os.getpid()}-c", "other"])


# --- opt-in ------------------------------------------------------------------------------------------

def test_real_kernel_tests_are_opt_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != OPT_IN}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-o", "addopts=",
                        str(ROOT / "tests" / "test_collect_integration.py")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert "1 skipped" in r.stdout, r.stdout
    assert f"{OPT_IN}=1" in r.stdout
    assert OPT_IN in (ROOT / ".ci" / "run").read_text()
    assert f"{OPT_IN}=1" in (ROOT / "README.md").read_text()


# --- two real collectors at once ---------------------------------------------------------------------

REASON = real_machine_reason()


@pytest.mark.integration
@pytest.mark.skipif(REASON is not None, reason=f"needs a real collector machine: {REASON}")
def test_two_concurrent_collects_each_record_only_their_own_victims(tmp_path):
    from oomnb.trace import load
    outs = {s: tmp_path / f"kvm-{s}" for s in ("aio-blocked", "fast-exit")}
    phases = tmp_path / "phases.log"
    # the aio-blocked collector waits 8 s after its victim's reaping, still recording; the
    # fast-exit collector runs in that window, so its kill happens during the other's run
    env = dict(os.environ, OOMNB_COLLECT_PHASE_LOG=str(phases), OOMNB_COLLECT_PHASE_PAUSE="reaping",
               OOMNB_COLLECT_PAUSE_S="8")
    procs = {}
    for s, out in outs.items():
        procs[s] = subprocess.Popen([sys.executable, "-m", "oomnb", "collect", "--scenario", s, "--limit", "128M",
                                     "--out", str(out), "--watchdog", "40"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env if s == "aio-blocked" else None)
        t0 = time.monotonic()
        while s == "aio-blocked" and "reaping" not in (phases.read_text() if phases.exists() else ""):
            assert time.monotonic() - t0 < 40 and procs[s].poll() is None, "no reaping phase"
            time.sleep(0.05)
    errs = {}
    try:
        for s, p in procs.items():
            errs[s] = p.communicate(timeout=90)[1]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    victims = {}
    for s, p in procs.items():
        assert p.returncode == 0, errs[s]
        assert leftovers(str(p.pid)) == []
        meta = json.loads(next(outs[s].glob("*/meta.json")).read_text())
        victims[s] = meta["victim_pids"]
    for s, out in outs.items():
        ep = load([str(out)]).df_episodes()
        assert sorted(ep.pid) == victims[s], (s, ep[["run", "pid", "outcome"]])
        trace = next(out.glob("*/trace.txt")).read_text()
        other = [v for k, vs in victims.items() if k != s for v in vs]
        assert not any(f"pid={v} " in trace or trace.rstrip().endswith(f"pid={v}") for v in other)
    for s, out in outs.items():
        meta = json.loads(next(out.glob("*/meta.json")).read_text())
        assert meta["run_pids"] == sorted(set(meta["victim_tids"]))
    fk = json.loads(next(outs["aio-blocked"].glob("*/meta.json")).read_text())["foreign_kills"]
    assert [f["pid"] for f in fk] == victims["fast-exit"]   # seen during the run, kept out, recorded
