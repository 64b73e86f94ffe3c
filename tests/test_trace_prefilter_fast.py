"""The fast read path (the in-process matcher's prefilter, in a thread, split over
two processes) gives the events and episodes of a full read (``prefilter='never'``)
on the real captures in data/ and on the generated benchmark trace; the text
output of ``oomnb parse`` / ``episodes`` needs no pandas."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from oomnb.trace import Trace
from oomnb.trace import bench as tbench
from oomnb.trace import lines as tlines
from oomnb.trace import reader
from oomnb.trace.cli_common import text_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REAL = sorted(str(p) for p in DATA.glob("*/") if p.is_dir())

needs_hs = pytest.mark.skipif(not tlines.hyperscan_available(), reason="no in-process matcher")


def _same_as_full_read(paths, **kw):
    full = Trace(paths, prefilter="never", **kw)
    fast = Trace(paths, prefilter="always", **kw)
    assert fast.stats and all(s.prefiltered for s in fast.stats)
    pd.testing.assert_frame_equal(fast.df_events(), full.df_events())
    pd.testing.assert_frame_equal(fast.df_episodes(), full.df_episodes())
    assert [str(u) for u in fast.unparsed] == [str(u) for u in full.unparsed]
    assert [s.lines for s in fast.stats] == [s.lines for s in full.stats]
    return full


@pytest.fixture
def small_blocks_split(monkeypatch):
    """Blocks of a few lines and every file split over two processes: the
    block and process boundaries fall everywhere."""
    monkeypatch.setattr(tlines, "BLOCK", 4096)
    monkeypatch.setattr(tlines, "_parallel_ok", lambda path: True)


@needs_hs
@pytest.mark.parametrize("path", REAL, ids=[Path(p).name for p in REAL])
def test_fast_path_equals_full_read_on_real_captures(path):
    full = _same_as_full_read([path])
    assert len(full.df_events()) > 0


@needs_hs
def test_fast_path_with_block_and_process_boundaries_everywhere(small_blocks_split):
    full = _same_as_full_read(REAL[:3])
    assert len(full.df_episodes()) > 0


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    out = {}
    for ltp in (False, True):
        p = d / f"bench-{ltp}.trace"
        victims = tbench.generate(p, 3 << 20, oom_every=4000, ltp=ltp)
        out[ltp] = (p, victims)
    return out


@needs_hs
@pytest.mark.parametrize("ltp", [False, True], ids=["plain", "ltp"])
def test_fast_path_equals_full_read_on_bench_trace(bench_files, ltp, monkeypatch):
    path, victims = bench_files[ltp]
    assert path.stat().st_size > tlines.PREFILTER_MIN_BYTES   # "auto" prefilters it
    full = Trace([str(path)], trace_clock="mono", prefilter="never")
    ep = full.df_episodes()
    assert len(ep) == victims and (ep.outcome == "reaped").all()
    for split in (False, True):
        monkeypatch.setattr(tlines, "_parallel_ok", lambda p, split=split: split)
        monkeypatch.setattr(tlines, "BLOCK", 64 << 10)
        fast = Trace([str(path)], trace_clock="mono", prefilter="auto")
        assert fast.stats[0].prefiltered
        pd.testing.assert_frame_equal(fast.df_events(), full.df_events())
        pd.testing.assert_frame_equal(fast.df_episodes(), ep)
        assert fast.stats[0].lines == full.stats[0].lines == sum(1 for _ in open(path, "rb"))


@needs_hs
def test_a_prefilter_dropping_mark_victim_is_caught(bench_files, monkeypatch):
    """The comparisons above fail when the prefilter loses a kind of line."""
    path, _ = bench_files[False]
    alts = [a for a in tlines.HS_ALTS if a != "mark_victim:"]
    assert len(alts) == len(tlines.HS_ALTS) - 1
    monkeypatch.setattr(tlines, "HS_ALTS", alts)
    monkeypatch.setattr(tlines, "HS_TABLE_IDS", {i for i, a in enumerate(alts)
                                                 if a in ("Tasks state", tlines.TASK_HEADER)})
    monkeypatch.setattr(tlines, "_HS_DB", None)
    with pytest.raises(AssertionError):
        _same_as_full_read([str(path)], trace_clock="mono")
    with pytest.raises(AssertionError):
        _same_as_full_read(REAL[:1])


def test_text_table_is_the_dataframe_layout():
    """The CLI's text tables are laid out as ``DataFrame.to_string(index=False)``."""
    tr = Trace(REAL)
    rows = [[str(e.source), e.kind, str(e.pid), e.comm or "-", e.ts_raw or "-"] for e in tr.events()]
    header = ["where", "kind", "pid", "comm", "ts"]
    assert text_table(rows, header) == pd.DataFrame(rows, columns=header).to_string(index=False) + "\n"


def test_parse_and_episodes_text_output_import_no_pandas(tmp_path):
    """``oomnb parse`` / ``episodes`` without --json/--csv on loose files never
    import pandas or numpy (the start-up cost of a large trace's read; a data
    set's memcg samples are read with pandas)."""
    run = DATA / "epyc2-cgroup1-linux6.18" / "aio-blocked-1024M-2"
    for name in ("trace.txt", "dmesg.txt"):
        (tmp_path / name).write_bytes((run / name).read_bytes())
    for cmd in (["episodes", "--trace-clock", "mono", "trace.txt", "dmesg.txt"], ["parse", "trace.txt"]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "oomnb", *cmd], capture_output=True,
                           text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        mods = {ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if ln.startswith("import time:")}
        assert "oomnb.trace.reader" in mods
        assert not {"pandas", "numpy", "matplotlib", "sympy", "networkx"} & mods, cmd
        assert ("reaped" if cmd[0] == "episodes" else "mark_victim") in r.stdout


def test_lines_read_of_a_large_file_without_evidence(tmp_path, capsys):
    """A large prefiltered file without OOM evidence says how many lines it read."""
    from oomnb.cli import main
    p = tmp_path / "quiet.trace"
    line = "          <idle>-0       [001] d..2.  1000.000001: sched_switch: prev_comm=swapper/1 next_comm=bash\n"
    n = (2 << 20) // len(line) + 1
    p.write_text("# tracer: nop\n" + line * n)
    assert main(["episodes", str(p)]) == 0
    assert f"read {n + 1} lines in 1 file: no OOM evidence" in capsys.readouterr().err


def test_quoted_printable_on_stdin_is_decoded():
    """A quoted-printable mail body piped in reads as the same file named."""
    import json
    qp = ROOT / "tests" / "fixtures" / "trace" / "real2" / "dmesg.qp.txt"

    def episodes(args, stdin=None):
        r = subprocess.run([sys.executable, "-m", "oomnb", "episodes", "--json", *args], input=stdin,
                           capture_output=True, check=True)
        assert b"unparsed" not in r.stderr, r.stderr
        return [{k: v for k, v in x.items() if k != "sources"} for x in json.loads(r.stdout)]

    piped = episodes(["-"], qp.read_bytes())
    assert piped == episodes([str(qp)])
    assert [(x["pid"], x["outcome"]) for x in piped] == [(316, "reaped"), (325, "unknown")]


@needs_hs
@pytest.mark.parametrize("block", [64, 4096])
def test_blank_line_inside_a_task_table_keeps_the_rows(tmp_path, monkeypatch, block):
    """The readers skip a blank line inside a task table; so does the matcher's
    table following (it once stopped there and lost the rows after it)."""
    p = tmp_path / "t.log"
    p.write_text("[  675.344016] Tasks state (memory values in pages):\n\n"
                 "[  675.344021] [   7031]     0  7031    19568    18014    16314     1700         0   188416"
                 "        0             0 oom01\n")
    monkeypatch.setattr(tlines, "BLOCK", block)
    rows = {m: [(r["line"], r["kind"]) for r in reader.read_source(reader.Input(str(p)), prefilter=m)]
            for m in ("never", "always")}
    assert rows["never"] == [(1, "task_table"), (3, "task_row")]
    assert rows["always"] == rows["never"]
