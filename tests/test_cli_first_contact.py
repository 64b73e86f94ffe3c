"""A new user's first commands: bad input is one line on stderr and a non-zero
exit, never a traceback; nothing readable is an error, no OOM evidence is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oomnb.cli import main

ROOT = Path(__file__).resolve().parents[1]
KVM = ROOT / "data" / "kvm2-cgroup1-linux6.18"
RUN = KVM / "fast-exit-256M-0"


def one_line_error(capsys, argv, code=2, want=None):
    try:
        rc = main(argv)
    except SystemExit as e:   # argparse
        rc = e.code
    err = capsys.readouterr().err
    assert rc == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error" in last, err
    if want:
        assert want in last, last
    return last


def test_kernel_file_with_a_non_kernel(tmp_path, capsys):
    f = tmp_path / "k.py"
    f.write_text("KERNEL = 42\n")
    one_line_error(capsys, ["check", "--kernel", str(f)], want="KERNEL is a int")


@pytest.mark.parametrize("name", ["4.9", "v4.9", "V4.9", " v4.9"])
def test_kernel_names_are_case_insensitive(name):
    from oomnb.kernel.versions import VERSIONS, load_kernel
    assert load_kernel(name) is VERSIONS["v4.9"]


def test_kernel_help_lists_every_version(capsys):
    from oomnb.kernel.versions import EXTRA, VERSIONS, load_kernel
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for v in [*VERSIONS, *EXTRA]:
        assert v in out
        assert load_kernel(v.upper()).name == v


def test_perfetto_to_a_missing_dir_or_a_dir(tmp_path, capsys):
    one_line_error(capsys, ["episodes", str(RUN), "--perfetto", "/nonexistent/x.json"], want="/nonexistent")
    one_line_error(capsys, ["episodes", str(RUN), "--perfetto", str(tmp_path)], want="is a directory")


def test_build_out_unwritable(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    one_line_error(capsys, ["build", "--out", str(f / "sub")], want="cannot write the build directory")


def test_nothing_readable_is_an_error(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    (tmp_path / "emptydir").mkdir()
    notraces = tmp_path / "notraces"
    notraces.mkdir()
    (notraces / "x.json").write_text("{}")
    for p in (empty, tmp_path / "emptydir", notraces):
        for cmd in ("parse", "episodes"):
            one_line_error(capsys, [cmd, str(p)], want="no readable input")


def test_read_but_no_oom_evidence_is_not_an_error(tmp_path, capsys):
    f = tmp_path / "boot.log"
    f.write_text("[    0.000000] Linux version 6.18.0\n[    1.000000] systemd[1]: started\n")
    assert main(["episodes", str(f)]) == 0
    err = capsys.readouterr().err
    assert "read 2 lines in 1 file: no OOM evidence" in err


def test_trace_clock_is_checked(capsys):
    one_line_error(capsys, ["parse", "--trace-clock", "bogus", str(RUN)], want="unknown trace clock 'bogus'")
    assert main(["parse", "--trace-clock", "mono", str(RUN / "trace.txt")]) == 0


def test_parse_a_run_file_reads_the_meta_beside_it(capsys):
    assert main(["parse", str(RUN / "trace.txt"), "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert recs and {r["clock"] for r in recs} == {"trace:mono"}
    assert {r["run"] for r in recs} == {RUN.name} and {r["machine"] for r in recs} == {KVM.name}


def test_json_and_csv_keep_integers(capsys):
    assert main(["parse", str(RUN), "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    pids = [r["pid"] for r in recs if r["pid"] is not None]
    assert pids and all(isinstance(p, int) for p in pids)
    assert any(r["pid"] is None for r in recs)   # nullable: missing stays missing
    assert main(["parse", str(RUN), "--csv"]) == 0
    out = capsys.readouterr().out
    assert ".0," not in out.replace("0.000000", "")   # no 13844.0


def test_check_diff_first_compact_and_once(capsys):
    assert main(["check", "--diff", "v4.8", "v4.9", "--scenario", "aio-blocked+suspend+second-oom"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Diff v4.8 -> v4.9"
    head = out.split("Fairness")[0]
    assert "disable_contract[tif] VIOLATED -> holds" in head
    assert all(len(ln) <= 72 for ln in head.splitlines())
    # each counterexample once: the [group] reading refers to the [tif] one
    assert out.count("the same steps as disable_contract[tif]") == 1
    assert out.count("Counterexample:") == 3
    assert "Total: 2 runs" in out


def test_check_contradictions_and_plural(capsys):
    one_line_error(capsys, ["check", "--diff", "v4.8", "V4.8"], want="two different versions")
    one_line_error(capsys, ["check", "--diff", "v4.8", "v4.9", "--kernel", "v4.5"], want="--kernel")
    assert main(["check", "--kernel", "v4.9", "--scenario", "fast-exit"]) == 0
    assert "Total: 1 run," in capsys.readouterr().out


def test_check_help_texts(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    for opt in ("--fairness", "--no-swimlane"):
        block = out.split(opt, 2)[2] if out.count(opt) > 1 else out.split(opt, 1)[1]
        assert len(block.split("\n  --")[0].split()) > 3, opt


def test_collect_dry_run_prints_the_verdict(capsys, tmp_path, monkeypatch):
    from oomnb.collect import runner
    env = runner.Environment(euid=1000)
    monkeypatch.setattr(runner, "preflight", lambda *a, **k: env)
    assert main(["collect", "--scenario", "fast-exit", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    assert "preflight: ok, every check passed" in capsys.readouterr().out
    env.problems.append("not root")
    assert main(["collect", "--scenario", "fast-exit", "--out", str(tmp_path / "x"), "--dry-run"]) == 3
    assert "preflight: would refuse (1 problem)" in capsys.readouterr().out


NB = {"cells": [{"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [],
                 "source": "import time\nprint('started', flush=True)\ntime.sleep(60)"}],
      "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_ctrl_c_stops_build_at_once(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for n in ("01-a", "02-b"):
        (nbs / f"{n}.ipynb").write_text(json.dumps(NB))
    out = tmp_path / "build"
    code = ("import sys\nfrom pathlib import Path\nfrom oomnb.build import build\nfrom oomnb.cli import main\n"
            "import oomnb.build as b\n"
            "b.repo_root = lambda: Path(sys.argv[1]).parent\n"
            "sys.exit(main(['build', '--out', sys.argv[2]]))\n")
    (tmp_path / "notebooks").symlink_to(nbs)
    (out / "").mkdir()
    (out / "writeup.txt").write_text("an older writeup\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "notebooks"), str(out)],
                         stderr=subprocess.PIPE, text=True, cwd=ROOT)
    t0 = time.monotonic()
    log = ""
    while "[1/2] 01-a.ipynb ..." not in log:
        log += p.stderr.readline()
        assert time.monotonic() - t0 < 60
    time.sleep(3)   # the kernel starts (or is starting)
    t1 = time.monotonic()
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    rc = p.wait(60)
    assert time.monotonic() - t1 < 20, rest
    assert rc == 130, log + rest
    assert "02-b" not in rest and "Traceback" not in rest and "never retrieved" not in rest
    assert "interrupted" in rest.strip().splitlines()[-1]
    assert not (out / "writeup.txt").exists()
    assert not (out / "notebooks" / "01-a.ipynb").exists()


def test_explain_takes_version_names_like_check(capsys):
    for name in ("V6.18", "6.18", "v6.12"):
        assert main(["explain", name]) == 0, name
        assert capsys.readouterr().out.startswith("v6.1")
    assert main(["explain"]) == 0
    assert "  v6.12\n" in capsys.readouterr().out
