"""One real ``aio-blocked`` 128 MiB run (root, tracefs, memory + throttle controllers; CI has them).

Checks the recorded episode: the SIGKILL, mark_victim, the reaper's wake /
start / finish, the free, in order; the exit_aio <- __mmput <- ... <- do_exit
stack; the metadata and the manifest; and that nothing is left behind. When
the readers (``oomnb episodes``) exist they must parse the run into one episode
of the victim. Skips with the reason elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from collect_helpers import leftovers, real_machine_reason

REASON = real_machine_reason()


@pytest.mark.integration
@pytest.mark.skipif(REASON is not None, reason=f"needs a real collector machine: {REASON}")
def test_real_aio_blocked_128m(tmp_path):
    out = tmp_path / "kvm-test-cgroup-linux"
    p = subprocess.Popen([sys.executable, "-m", "oomnb", "collect", "--scenario", "aio-blocked", "--limit", "128M",
                          "--out", str(out), "--watchdog", "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = p.communicate(timeout=55)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, stderr
    assert leftovers(str(p.pid)) == []  # names carry the collector's pid
    run = out / "aio-blocked-128M-0"
    meta = json.loads((run / "meta.json").read_text())
    pid = meta["victim_pids"][0]
    assert meta["schema"] == "oomnb-run/1" and meta["trace_clock"] == "mono" and meta["limit_bytes"] == 128 << 20
    assert set(meta["files"]) == {"trace.txt", "kmsg.txt", "memcg.csv", "stacks.txt"}

    # the episode, in order (a check of the test's own, not a reader)
    trace = (run / "trace.txt").read_text()
    when = {}
    for ev, pat in [("kill", rf"signal_generate: sig=9 .* pid={pid} "), ("mark", rf"mark_victim: pid={pid} "),
                    ("wake", rf"wake_reaper: pid={pid}$"), ("start", rf"start_task_reaping: pid={pid}$"),
                    ("finish", rf"finish_task_reaping: pid={pid}$"), ("free", rf"sched_process_free: comm=\S+ pid={pid} ")]:
        m = re.search(r"^.*\s(\d+\.\d+): " + pat, trace, re.M)
        assert m, f"no {ev} for pid {pid} in trace.txt"
        when[ev] = float(m.group(1))
    order = ["kill", "mark", "wake", "start", "finish", "free"]
    assert [when[k] for k in order] == sorted(when[k] for k in order), when
    assert 2.0 <= when["wake"] - when["mark"] <= 2.2, when  # OOM_REAPER_DELAY = 2*HZ (+ timer wheel rounding)
    assert "oomnb: " in trace and "phase=throttle-lifted" in trace

    # the victim sat in exit_aio <- __mmput <- ... <- do_exit while it was reaped
    stacks = (run / "stacks.txt").read_text()
    blocks = [b for b in stacks.split("\n@ ") if f"tid={pid} " in b and "exit_aio" in b]
    assert blocks, "no stack sample with exit_aio"
    funcs = [re.sub(r"^\[<\w+>\] (\w+)\+.*$", r"\1", ln) for ln in blocks[0].splitlines()[1:] if ln.startswith("[<")]
    for a, b in [("exit_aio", "__mmput"), ("__mmput", "do_exit")]:
        assert funcs.index(a) < funcs.index(b), funcs
    assert meta["stacks_show_exit_aio"] is True
    assert f"Killed process {pid} " in (run / "kmsg.txt").read_text()

    rows = (run / "memcg.csv").read_text().splitlines()
    assert rows[0] == "monotonic_s,usage_bytes" and len(rows) > 50
    assert max(int(r.split(",")[1]) for r in rows[1:]) <= 128 << 20

    # manifest covers every file
    man = dict(reversed(line.split("  ", 1)) for line in (out / "manifest.sha256").read_text().splitlines())
    files = sorted(str(f.relative_to(out)) for f in out.rglob("*") if f.is_file() and f.name != "manifest.sha256")
    assert sorted(man) == files
    for rel, digest in man.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest

    # the readers parse it into one reaped episode of the victim
    from oomnb.trace import load
    ep = load([str(run)]).df_episodes()
    assert list(ep["pid"]) == [pid], ep
    e = ep.iloc[0]
    assert e["outcome"] == "reaped" and e["evidence"] == "trace+log"
    assert 2.0 <= e["kill_to_wake"] <= 2.2 and e["reap_duration"] > 0 and e["kill_to_free"] > e["kill_to_reap_start"]
