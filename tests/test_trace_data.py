"""The project's real data set (data/): episodes, raw times, clock offsets."""

import hashlib
import json
import re
from pathlib import Path

import pytest

from oomnb import trace

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
HW = ["epyc2-cgroup1-linux6.18", "xeon16-cgroup2-linux6.18"]
OFFSET_MS = {"epyc2-cgroup1-linux6.18": 0.69, "xeon16-cgroup2-linux6.18": -32.75}
TRACE_RX = re.compile(r"-(\d+)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): (\w+): (.*)$")
LOG_RX = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")


@pytest.fixture(scope="module", params=HW)
def machine(request):
    tr = trace.load(str(DATA / request.param))
    return request.param, tr, tr.df_episodes()


def test_manifests_match_files():
    for m in HW:
        d = DATA / m
        listed = {}
        for line in (d / "manifest.sha256").read_text().splitlines():
            h, name = line.split("  ", 1)
            listed[name] = h
        files = {p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != "manifest.sha256"}
        assert set(listed) == files
        for name, h in listed.items():
            assert hashlib.sha256((d / name).read_bytes()).hexdigest() == h, name


def test_run_metadata_contract():
    for m in HW:
        runs = sorted(p.parent for p in (DATA / m).glob("*/meta.json"))
        assert len(runs) == 12
        for r in runs:
            meta = json.loads((r / "meta.json").read_text())
            for k in ("schema", "machine", "scenario", "limit_bytes", "run", "trace_clock", "cgroup_version",
                      "kernel_release", "victim_pids", "files", "provenance", "caveats"):
                assert k in meta, (r, k)
            assert r.name == f"{meta['scenario']}-{meta['limit_bytes'] >> 20}M-{meta['run']}"
            assert set(meta["files"]) == {"trace.txt", "dmesg.txt", "memcg.csv"}


def test_one_episode_per_victim(machine):
    m, tr, ep = machine
    assert len(ep) == 12
    assert ep.pid.is_unique
    assert set(ep.evidence) == {"trace+log"}
    # the victim of each run is the mark_victim pid of its trace.txt
    for r in ep.itertuples():
        txt = (DATA / m / r.run / "trace.txt").read_text()
        assert f"mark_victim: pid={r.pid} " in txt


def _trace_times(path, pid):
    out = {}
    for line in path.read_text().splitlines():
        mt = TRACE_RX.search(line)
        if not mt:
            continue
        ts, ev, fields = mt[2], mt[3], mt[4]
        if re.search(rf"\bpid={pid}\b", fields) and ev not in out:
            if ev == "signal_generate" and "sig=9 " not in fields:
                continue
            out[ev] = float(ts)
    return out


def test_trace_times_equal_raw_lines(machine):
    m, tr, ep = machine
    cols = {"mark_victim": "kill", "wake_reaper": "wake", "start_task_reaping": "reap_start",
            "finish_task_reaping": "reap_finish", "sched_process_exit": "exit_start",
            "sched_process_free": "free", "signal_generate": "signal"}
    for r in ep.itertuples():
        raw = _trace_times(DATA / m / r.run / "trace.txt", r.pid)
        for ev, col in cols.items():
            v = getattr(r, col)
            if ev in raw:
                assert v == raw[ev], (r.run, col)
            else:
                assert v is None or v != v, (r.run, col)
        assert r.exit_mm_done is None or r.exit_mm_done != r.exit_mm_done   # 6.18: group_dead format


def test_printk_times_equal_raw_lines(machine):
    m, tr, ep = machine
    for r in ep.itertuples():
        kills, reaps = {}, {}
        for line in (DATA / m / r.run / "dmesg.txt").read_text().splitlines():
            mt = LOG_RX.match(line)
            if f"Killed process {r.pid} " in mt[2]:
                kills[r.pid] = float(mt[1])
            if f"reaped process {r.pid} " in mt[2]:
                reaps[r.pid] = float(mt[1])
        assert r.kill_printk == kills[r.pid]
        if r.pid in reaps:
            assert r.reaped_printk == reaps[r.pid]
            assert r.kill_to_reaped_printk == pytest.approx(reaps[r.pid] - kills[r.pid], abs=1e-9)


def test_offsets_constant_per_machine(machine):
    m, tr, ep = machine
    off = tr.df_offsets()
    k = off[off.anchor == "kill"]
    assert len(k) == 12                                     # one file pair per run
    assert (k.offset_s.max() - k.offset_s.min()) <= 5e-6    # constant to within 5 us across runs
    assert k.offset_s.median() * 1e3 == pytest.approx(OFFSET_MS[m], abs=0.01)
    per_run = dict(zip(k.run, k.offset_s))
    assert all(r.offset_s == per_run[r.run] for r in ep.itertuples())   # each run's own file pair
    assert ep.offset_s.max() - ep.offset_s.min() <= 5e-6


def test_outcomes(machine):
    m, tr, ep = machine
    by = dict(zip(ep.run, ep.outcome))
    for run, outcome in by.items():
        if run.startswith("aio-blocked"):
            assert outcome == "reaped", run
    if m.startswith("epyc2"):
        assert all(by[r] == "self-exit" for r in by if r.startswith("fast-exit"))
        assert ep[ep.outcome == "self-exit"].wake.isna().all()
    else:
        assert by["fast-exit-49152M-3"] == "joined"
        assert sum(o == "joined" for o in by.values()) == 1
    reaped = ep[ep.outcome == "reaped"]
    assert (reaped.kill_to_wake.between(2.0, 2.04)).all()   # OOM_REAPER_DELAY on the timer wheel


def test_single_dmesg_yields_repeated_victims_log_only():
    f = DATA / "epyc2-cgroup1-linux6.18" / "aio-blocked-1024M-4" / "dmesg.txt"
    ep = trace.df_episodes(str(f))
    assert list(ep.pid) == [13984, 14034, 14072]
    assert set(ep.evidence) == {"log-only"}
    assert set(ep.outcome) == {"reaped"}
    assert list(ep.kill) == [1500.851054, 1504.399125, 1508.106537]
    assert list(ep.anon_rss_after_kb) == [0, 0, 8]
    # the first kill's header is cut off by the tail; the others have theirs
    assert ep.gfp_mask.tolist()[1:] == ["0xcc0", "0xcc0"]


def test_dmesg_tails_deduplicated_and_outside_runs():
    tr = trace.load(str(DATA / "epyc2-cgroup1-linux6.18"))
    ev = tr.df_events()
    killed = ev[ev.kind == "killed"]
    assert killed.dup.sum() > 0
    kept = killed[~killed.dup & killed.in_run]
    assert kept.pid.is_unique and len(kept) == 12


def test_missing_events_loud():
    tr = trace.load(str(DATA / "epyc2-cgroup1-linux6.18" / "fast-exit-256M-0"))
    with pytest.raises(trace.MissingEvents, match="wake_reaper"):
        tr.df_events(["wake_reaper"])
    assert len(tr.df_events(["mark_victim"])) == 1


def test_memcg_samples_joined():
    tr = trace.load(str(DATA / "epyc2-cgroup1-linux6.18" / "aio-blocked-128M-0"))
    mem = tr.df_memcg()
    assert len(mem) > 1000 and set(mem.clock) == {"monotonic"}
    assert mem.usage_bytes.max() <= 128 << 20


def test_a_loose_trace_file_reads_no_run_around_it(tmp_path):
    """A trace file given alone (e.g. in /tmp or ~) must not pull in the
    memcg samples or metadata of data-set runs elsewhere below its directory."""
    import shutil

    from oomnb.trace import Trace, data_dir
    run = next(p.parent for p in sorted(data_dir().rglob("memcg.csv")))
    shutil.copytree(run, tmp_path / "other-set" / "some-run")
    f = tmp_path / "loose.trace"
    f.write_text((run / "trace.txt").read_text())
    tr = Trace([str(f)])
    assert tr.df_memcg().empty
