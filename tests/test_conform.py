"""Trace validation: real and synthetic episodes replayed through the model."""

import io
import json
import re
from contextlib import redirect_stdout

import pytest

from oomnb import conform as cf
from oomnb import events as ev
from oomnb.cli import main
from oomnb.conform import synth
from oomnb.conform.observed import IN_EXIT_AIO, Episode, Observed

SCENARIOS = ("fast-exit/1t", "aio-blocked/1t", "dstate-thread/2t", "mmap-lock/1t",
             "aio-blocked+second-oom/1t", "fast-exit/3t")
ALL = frozenset(ev.OBSERVATIONS)


def _ep(*events, capture=ALL):
    obs = [Observed(w, p, float(i), w) for i, (w, p) in enumerate(events)]
    return Episode("hand/1", "hand", None, None, 1, (1,), obs, frozenset(capture))


@pytest.fixture(scope="module")
def data_json():
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["conform", "data/", "--json"]) == 0
    return json.loads(buf.getvalue())


def _cells(d, emulated=False, **kw):
    """Cells of the real machines (or, with ``emulated=True``, of the QEMU
    guests, whose durations are not comparable)."""
    return [c for c in d["cells"] if all(c[k] == v for k, v in kw.items())
            and c["machine"].startswith("qemu") == emulated]


def test_data_matrix_from_replay(data_json):
    d = data_json
    real = {e for e in d["matrix"] if not e.startswith("qemu")}
    assert len(real) == 50 and d["versions"] == list(cf.VERSIONS)
    # the QEMU guests (6.1, 6.12, 6.18 under TCG): ordering only, every one
    # explained by the current model and none with a reap by v4.5
    guests = _cells(d, emulated=True, version="v6.18")
    assert len(guests) == len(d["matrix"]) - 50 and guests
    # sets of patched 6.18 kernels (their names end in the patch's local version, data/README) run other code
    guests = [c for c in guests if re.search(r"linux\d+\.\d+$", c["machine"])]
    assert all(c["ordering"] == cf.CONFORMS and c["timing"] == "-" for c in guests)
    assert all(c["ordering"] == cf.FAILS for c in _cells(d, emulated=True, version="v4.5")
               if c["scenario"] in ("aio-blocked", "dstate-thread", "suspend-dstate"))
    # v6.18 explains every episode, in order and in time
    for c in _cells(d, version="v6.18"):
        assert c["ordering"] == cf.CONFORMS, c
        assert c["timing"] in ("ok", "-"), c
    # v4.5 has no oom_reaper: nothing with a reaper event conforms, its first
    # unexplained event is the reaper's
    for c in _cells(d, version="v4.5"):
        sc = c["scenario"]
        if sc in ("aio-blocked", "dstate-thread", "reaper-trylock-failure"):
            assert c["ordering"] == cf.FAILS and c["first_unexplained"].startswith("reaper_wake")
    # the trylock failures: 10 skips and 'unable to reap' replayed in 6.18
    tl = _cells(d, version="v6.18", scenario="reaper-trylock-failure")
    assert len(tl) == 4 and all(c["observed"] >= 13 for c in tl)


def test_debian_6_1_guests_conform_to_v6_1(data_json):
    """The runs on Debian 12's 6.1 kernel conform to v6.1 in order, and v5.15
    explains the order of their aio-blocked runs too (no mmget_not_zero gate)."""
    d = data_json
    mine = [c for c in d["cells"] if c["machine"].endswith("linux6.1") and c["version"] == "v6.1"]
    assert mine and all(c["ordering"] == cf.CONFORMS for c in mine)
    old = [c for c in d["cells"] if c["machine"].endswith("linux6.1") and c["version"] == "v5.15"
           and c["scenario"] == "aio-blocked"]
    assert old and all(c["ordering"] == cf.CONFORMS for c in old)


def test_no_reaper_delay_fails_the_timing(data_json):
    """On the real machines (6.18) a wake 2 s after the kill has no
    explanation in v4.19 or v5.15, which queue the victim at once."""
    for v in ("v4.19", "v5.15"):
        cs = _cells(data_json, version=v, scenario="aio-blocked")
        assert cs and any(c["timing"] == "impossible" for c in cs)
        assert all(c["timing"] in ("ok", "-") for c in _cells(data_json, version="v6.1",
                                                           scenario="aio-blocked"))


def test_summary_table_lists_versions_oldest_first(data_json):
    res = cf.conform_paths(["data/qemu2-cgroup1-linux6.1"])
    cols = list(dict.fromkeys(res.summary_table().columns.get_level_values(1)))
    assert cols == list(cf.VERSIONS)


def test_aio_blocked_v49_v48(data_json):
    """With stack samples (kvm2) the order refutes v4.8/v4.9 at the reap;
    without them (imported sets) only the timing does."""
    for v in ("v4.8", "v4.9"):
        aio = _cells(data_json, version=v, scenario="aio-blocked")
        assert len(aio) == 23
        for c in aio:
            if c["machine"].startswith("kvm2"):
                assert c["ordering"] == cf.FAILS
                assert c["first_unexplained_event"] == ev.START_TASK_REAPING
            else:
                assert c["ordering"] == cf.CONFORMS
            assert c["timing"] == "impossible"
            assert c["timing_first_impossible"].startswith("kill -> reaper_wake")


def test_explain_v49_aio_names_the_gate(capsys):
    assert main(["conform", "data/kvm2-cgroup1-linux6.18/aio-blocked-256M-0", "--explain",
                 "21571", "--kernel", "v4.9"]) == 0
    out = capsys.readouterr().out
    assert f"first unexplained: #5 reap_start(21571) ({ev.START_TASK_REAPING}" in out
    assert "T0=__MMPUT" in out and "at exit_aio" in out and "mm_users=0" in out
    assert "reap_attempt -> reap_skip(T0)" in out


@pytest.mark.parametrize("v", cf.VERSIONS)
def test_finish_before_mark_victim(v):
    r = cf.replay_episode(_ep((ev.REAP_FINISH, 1), (ev.KILL, 1)), v, "fast-exit/1t")
    assert not r.conforms and r.unexplained_index == 0 and r.unexplained.what == ev.REAP_FINISH


def test_reap_while_owner_in_exit_aio():
    e = _ep((ev.KILL, 1), (ev.EXIT_START, 1), (IN_EXIT_AIO, 1), (ev.REAP_START, 1),
            (ev.REAP_FINISH, 1))
    e.events[2] = Observed(IN_EXIT_AIO, 1, 2.0, "stack", state=True)
    for v in ("v4.8", "v4.9"):
        r = cf.replay_episode(e, v, "aio-blocked/1t")
        assert not r.conforms and r.unexplained_index == 3, v
    assert cf.replay_episode(e, "v6.18", "aio-blocked/1t").conforms
    # without the stack sample the order alone allows a reap before exit_mm
    e.events.pop(2)
    assert cf.replay_episode(e, "v4.9", "aio-blocked/1t").conforms


def test_unrecorded_events_not_required():
    # a log with only the kill and the reap: the model's exit, free and wake are silent
    cap = {ev.KILL, ev.REAP_FINISH, ev.REAP_UNABLE}
    e = _ep((ev.KILL, 1), (ev.REAP_FINISH, 1), capture=cap)
    assert cf.replay_episode(e, "v4.9", "fast-exit/1t").conforms
    assert not cf.replay_episode(e, "v4.5", "fast-exit/1t").conforms
    # with exits recorded, an exit the model must show cannot be skipped
    e = _ep((ev.KILL, 1), (ev.FREE, 1), capture=ALL)
    r = cf.replay_episode(e, "v6.18", "fast-exit/1t")
    assert not r.conforms and r.unexplained.what == ev.FREE


@pytest.mark.parametrize("v", cf.VERSIONS)
def test_synthetic_episodes_conform_to_their_version(v):
    for sc in SCENARIOS:
        for seed in range(4):
            e = synth.random_episode(v, sc, seed)
            r = cf.replay_episode(e, v, sc)
            assert r.conforms, (v, sc, seed, [o.label() for o in e.events], r.unexplained)


def test_synthetic_reap_does_not_conform_to_v45():
    reaps = 0
    for seed in range(20):
        e = synth.random_episode("v6.18", "aio-blocked/1t", seed)
        if any(o.what == ev.REAP_START for o in e.events):
            reaps += 1
            assert not cf.replay_episode(e, "v4.5", "aio-blocked/1t").conforms
    assert reaps


def test_log_only_input(tmp_path, capsys):
    f = tmp_path / "dmesg.txt"
    f.write_text("[ 1494.122400] Memory cgroup out of memory: Killed process 13937 (python3) "
                 "total-vm:148576kB, anon-rss:130304kB, file-rss:6956kB, shmem-rss:128kB, "
                 "UID:0 pgtables:320kB oom_score_adj:0\n"
                 "[ 1496.200000] oom_reaper: reaped process 13937 (python3), now anon-rss:0kB, "
                 "file-rss:0kB, shmem-rss:0kB\n")
    assert main(["conform", str(f)]) == 0
    out = capsys.readouterr().out
    assert "2 observed events constrain the order" in out
    assert "v4.5:NO" in out and "v6.18:yes" in out


def test_bad_input_one_line(tmp_path, capsys):
    """A missing file is an error; a file read but without OOM evidence is
    not (exit 0, said on stderr): one line each."""
    f = tmp_path / "x.txt"
    assert main(["conform", str(f)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(f) in err
    f.write_text("nothing here\n")
    assert main(["conform", str(f)]) == 0
    cap = capsys.readouterr()
    assert cap.err.count("\n") == 1 and "no OOM evidence" in cap.err and cap.out == ""


@pytest.mark.parametrize("sc", ["aio-blocked/1t", "mmap-lock/1t"])
def test_synthetic_lines_through_the_readers(tmp_path, capsys, sc):
    """A model behaviour written as trace and log lines, read back by the
    readers, replays in the version that emitted it (and not in v4.5 when
    the reaper shows)."""
    for seed in range(4):
        tr, lg = synth.text_files("v6.18", sc, seed)
        (tmp_path / "trace.txt").write_text(tr)
        (tmp_path / "dmesg.txt").write_text(lg)
        assert main(["conform", str(tmp_path / "trace.txt"), str(tmp_path / "dmesg.txt"),
                     "--trace-clock", "mono", "--scenario", sc.split("/")[0],
                     "--kernel", "v6.18", "--kernel", "v4.5", "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        direct = synth.random_episode("v6.18", sc, seed)
        if not direct.events:
            continue
        (cell,) = _cells(d, version="v6.18")
        assert cell["ordering"] == cf.CONFORMS and cell["observed"] == len(direct.events)
        reaper = any(o.what in (ev.REAPER_WAKE, ev.REAP_START) for o in direct.events)
        (old,) = _cells(d, version="v4.5")
        assert (old["ordering"] == cf.FAILS) == reaper


def test_second_process_is_w():
    """Another process killed during the episode is the model's W; the
    replay then runs with +second-oom, and V outranks W."""
    cap = {ev.KILL, ev.KILL_OTHER, ev.REAP_START, ev.REAP_FINISH}
    e = _ep((ev.KILL, 1), (ev.REAP_START, 1), (ev.REAP_FINISH, 1), (ev.KILL_OTHER, 2),
            capture=cap)
    e.scenario = "aio-blocked"
    c = cf.replay_cell(e, "v4.9")
    assert c.scenario.second_oom and c.verdict == cf.CONFORMS
    assert c.replay.binding == {"T0": 1, "W": 2}
    e.events = [Observed(ev.KILL_OTHER, 2, 0.0, "x"), Observed(ev.KILL, 1, 1.0, "x")]
    r = cf.replay_cell(e, "v6.18").replay
    assert not r.conforms and r.unexplained_index == 0
    e.events = [Observed(ev.KILL, 1, 0.0, "x")]
    assert not cf.scenario_for(e)[0].second_oom


def test_calibration_report_units():
    from oomnb import calibrate, trace
    cal = calibrate.calibrate(trace.df_episodes([str(trace.data_dir())]))
    r = calibrate.report(cal).set_index("symbol")
    slack = cal.get("t_slack")
    assert r.loc["t_slack", "value"] == pytest.approx(cal.reaper_delay_s + slack.value)
    assert r.loc["t_slack", "lo"] <= r.loc["t_slack", "value"] <= r.loc["t_slack", "hi"]
    assert r.loc["B_reap", "value"] == pytest.approx(cal.get("B_reap").value / 2 ** 30)


def test_no_model_counterpart_is_said():
    e = _ep((ev.KILL, 1))
    e.scenario = "some-new-scenario"
    c = cf.replay_cell(e, "v6.18")
    assert c.verdict == cf.NO_SCENARIO and "no model counterpart" in c.note
    assert "no model scenario" in cf.explain_cell(c)


@pytest.mark.parametrize("version,scenario", [("v4.9", "aio-blocked+second-oom"),
                                              ("v6.18", "aio-blocked+second-oom"),
                                              ("v4.8", "dstate-thread"),
                                              ("v6.18", "mmap-lock")])
def test_simulated_episodes_conform_to_their_own_version(version, scenario):
    """The simulator's output goes through the same readers-schema replay as
    real traces, and conforms (in order) to the version that produced it."""
    from oomnb import sim
    eps = sim.simulate(version, scenario, runs=6, seed=3, record=True)
    res = cf.conform_simulation(eps, versions=(version,))
    df = res.df()
    victims = df[df["pid"] % 10 != 9]              # W's own kill is an episode too
    assert victims["run"].nunique() == 6
    assert (df["ordering"] == cf.CONFORMS).all(), df[["episode", "ordering", "first_unexplained"]]


def test_simulated_reaping_does_not_conform_to_v4_5():
    from oomnb import sim
    eps = sim.simulate("v6.18", "mmap-lock", runs=4, seed=5, record=True)
    df = cf.conform_simulation(eps, versions=("v4.5",)).df()
    assert df["run"].nunique() == 4 and (df["ordering"] == cf.FAILS).all()
