"""`oomnb check` / `oomnb explain` / bench: output shape, JSON, errors."""

from __future__ import annotations

import argparse
import json

from oomnb.cli import main
from oomnb.kernel import STANDARD


def test_check_narrowed_prints_verdicts_counterexample_and_swimlane(capsys):
    rc = main(["check", "--kernel", "v4.8", "--scenario", "aio-blocked+suspend+second-oom",
               "--property", "pm_exclusion"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Test v4.8 aio-blocked+suspend+second-oom/1t disable_contract[tif] Violated" in out
    assert "Test v4.8 aio-blocked+suspend+second-oom/1t suspend_exclusion[tif] Ok" in out
    assert "distinct states found" in out and "The depth of the complete state graph" in out
    assert "Counterexample: v4.8" in out and "oom_killer_disable=true" in out
    assert "  match" in out
    lane = out.split("Counterexample:")[1]
    assert "oom_reaper" in lane and "---" in lane
    for line in lane.splitlines():
        assert len(line) <= 72, line


def test_check_json(capsys):
    rc = main(["check", "--kernel", "v4.9", "--scenario", "aio-blocked+suspend+second-oom",
               "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    r = d["results"][0]
    assert r["kernel"] == "v4.9" and r["states"] > 0 and r["depth"] > 0
    v = r["verdicts"]["no_premature_kill"]
    assert v["verdict"] == "violated" and v["counterexample"][0]["n"] == 1
    assert {"actor", "function", "changes"} <= set(v["counterexample"][0])
    assert r["oracle"]["no_premature_kill"] == "ok"


def test_check_diff_and_user_kernel(tmp_path, capsys):
    f = tmp_path / "p.py"
    f.write_text("from oomnb.kernel.versions import V4_9\n"
                 "KERNEL = V4_9.derive('v4.9+p', reaper_remote_exit_oom_victim=True)\n")
    rc = main(["check", "--diff", "v4.9", str(f), "--scenario", "aio-blocked+suspend+second-oom"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Diff v4.9 -> v4.9+p" in out and "reaper_remote_exit_oom_victim" in out
    assert "disable_contract[tif]" in out.split("Diff v4.9")[1]


def test_check_errors_are_one_line(capsys):
    assert main(["check", "--kernel", "v9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown kernel" in err
    assert main(["check", "--scenario", "bogus"]) == 2
    assert main(["check", "--property", "nope", "--scenario", "fast-exit"]) == 2


def test_check_stops_at_the_state_limit(capsys):
    """A run past --max-states ends with one line, not with the memory full."""
    args = ["check", "--kernel", "v4.8", "--scenario", "aio-blocked+suspend+second-oom"]
    assert main(args + ["--max-states", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more than 100 states" in err and "--max-states" in err
    assert main(args + ["--max-states", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(args + ["--max-states", "2337"]) == 0      # exactly the graph's size


def test_explain(capsys):
    assert main(["explain", "exit_mm"]) == 0
    out = capsys.readouterr().out
    assert "kernel/exit.c:exit_mm" in out and "Leaves out" in out
    assert main(["explain", "disable_contract"]) == 0
    assert "74070542099c" in capsys.readouterr().out
    assert main(["explain", "v6.18"]) == 0
    assert "queue_mmf_test" in capsys.readouterr().out
    assert main(["explain", "oom_reap_task_mm"]) == 0
    assert "reap_attempt" in capsys.readouterr().out
    # kernel functions the model folds into a larger step are explained too
    assert main(["explain", "mark_oom_victim"]) == 0
    out = capsys.readouterr().out
    assert "folded into the transition(s) out_of_memory" in out and "mmgrab" in out
    assert main(["explain", "no_such_function"]) == 2


def test_bench_check_runs(capsys):
    from oomnb.checker import bench
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    assert bench.run(p.parse_args(["--repeat", "1", "--kernel", "v4.5", "--json"])) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total_states"] > 0 and all(r["explore_states_per_s"] > 0 for r in d["rows"])
    # the memo: transition code runs at least once per transition that fires somewhere,
    # and on the larger graphs far less often than there are transitions
    assert all(0 < r["fire_calls"] for r in d["rows"])
    big = max(d["rows"], key=lambda r: r["transitions"])
    assert big["fire_calls"] * 5 < big["transitions"]


def test_plain_check_prints_all_tables_and_matches_the_oracle(capsys):
    rc = main(["check"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("\n== ") == len(STANDARD)
    assert "MISMATCH" not in out
    cells = [ln for ln in out.splitlines() if not ln.startswith("Legend")]
    assert not any(" ! " in ln or ln.endswith(" !") for ln in cells)
    assert out.count("  match") == 4 * len(STANDARD)
    for line in out.splitlines():
        assert len(line) <= 72, line


def test_check_diff_shows_the_6_18_finding(capsys):
    rc = main(["check", "--diff", "v6.12", "v6.18", "--scenario", "dstate-thread+suspend",
               "--property", "suspend_exclusion", "--no-swimlane"])
    out = capsys.readouterr().out
    assert rc == 0
    diff = out.split("Diff v6.12 -> v6.18")[1].split("\n--")[0]
    assert "freeze_exempt: tif->group" in diff
    assert "suspend_exclusion[group]" in diff and "holds -> VIOLATED" in diff
    assert "suspend_exclusion[tif]" not in diff
    assert "Test v6.18 dstate-thread+suspend/2t suspend_exclusion[group] Violated" in out
