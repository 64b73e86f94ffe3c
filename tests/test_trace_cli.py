"""oomnb parse / episodes: outputs, stdin, .gz, directories, errors, perfetto."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from oomnb.cli import main
from oomnb.trace.perfetto import check_nesting

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "trace"
EPYC = ROOT / "data" / "epyc2-cgroup1-linux6.18"
XEON = ROOT / "data" / "xeon16-cgroup2-linux6.18"


def test_episodes_text_on_data_set(capsys):
    assert main(["episodes", str(EPYC)]) == 0
    out = capsys.readouterr().out
    assert "12 episodes, 12 victim pids: reaped 8, self-exit 4" in out
    assert "offset printk - trace:mono [epyc2-cgroup1-linux6.18] (kill anchors, 12 pairs in 12 file pairs): +0.690 ms" in out


def test_episodes_json_and_csv(capsys):
    assert main(["episodes", str(XEON), "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert len(recs) == 12 and {r["outcome"] for r in recs} == {"reaped", "self-exit", "joined"}
    assert main(["episodes", str(XEON), "--csv"]) == 0
    from io import StringIO
    df = pd.read_csv(StringIO(capsys.readouterr().out))
    assert len(df) == 12 and "reap_duration" in df.columns


def test_parse_kinds_and_json(capsys):
    assert main(["parse", str(EPYC / "aio-blocked-1024M-2"), "--kinds", "mark_victim,killed", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in recs} == {"mark_victim", "killed"}
    mv = [r for r in recs if r["kind"] == "mark_victim"][0]
    assert (mv["pid"], mv["ts_raw"], mv["clock"], mv["machine"]) == (13984, "1500.850364", "trace:mono",
                                                                      "epyc2-cgroup1-linux6.18")


def test_parse_missing_kind_is_one_line_error(capsys):
    assert main(["parse", str(EPYC / "fast-exit-256M-0"), "--kinds", "wake_reaper"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no wake_reaper events" in err[0]


def test_stdin_and_gz(tmp_path):
    src = (EPYC / "aio-blocked-1024M-4" / "dmesg.txt").read_bytes()
    gz = tmp_path / "kern.log.gz"
    gz.write_bytes(gzip.compress(src))
    for args, inp in ((["-"], src), ([str(gz)], None), (["-"], gzip.compress(src))):
        r = subprocess.run([sys.executable, "-m", "oomnb", "episodes", "--json", *args], input=inp,
                           capture_output=True, check=True)
        recs = json.loads(r.stdout)
        assert [x["pid"] for x in recs] == [13984, 14034, 14072]
        assert {x["evidence"] for x in recs} == {"log-only"}


def test_binary_and_missing_files_one_line(tmp_path, capsys):
    b = tmp_path / "trace.dat"
    b.write_bytes(b"\x00\x01tracing\x00" * 100)
    assert main(["parse", str(b)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(b) in err[0] and "binary" in err[0]
    assert main(["episodes", str(tmp_path / "nope.log")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.log" in err[0]


def test_unparsed_reported_and_strict(tmp_path, capsys):
    p = tmp_path / "bad.log"
    p.write_text("[ 1.000000] Out of memory: Killed process x (y)\n[ 2.000000] hello\n")
    assert main(["parse", str(p)]) == 0
    err = capsys.readouterr().err
    assert "1 unparsed OOM-looking line" in err and f"{p}:1:" in err
    assert main(["parse", "--strict", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{p}:1:" in err[0]


def test_directory_recursive_skips_binary_with_warning(tmp_path, capsys):
    d = tmp_path / "logs" / "a"
    d.mkdir(parents=True)
    (d / "kern.log").write_text((FIX / "synthetic" / "v5.1.dmesg").read_text())
    (d / "x.dat").write_bytes(b"\x00" * 10)
    (d / "blob").write_bytes(b"\x00" * 10)
    assert main(["episodes", str(tmp_path / "logs"), "--json"]) == 0
    cap = capsys.readouterr()
    assert [r["pid"] for r in json.loads(cap.out)] == [900]
    assert "binary file skipped" in cap.err


def test_perfetto_slices_nest(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["episodes", str(EPYC), str(XEON), "--perfetto", str(out)]) == 0
    ev = json.loads(out.read_text())["traceEvents"]
    xs = [e for e in ev if e["ph"] == "X"]
    assert len(xs) >= 40
    by = {}
    for e in xs:
        by.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["dur"]))
    assert all(check_nesting(v) for v in by.values())
    assert not check_nesting([(0, 10), (5, 10)]) and check_nesting([(0, 10), (2, 3), (10, 1)])
