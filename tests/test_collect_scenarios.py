"""Each collector scenario is one object; adding one touches one place."""

from __future__ import annotations

import inspect

import pytest

from oomnb.cli import main
from oomnb.collect import runner, scenarios


def test_run_once_has_no_branch_per_scenario():
    src = inspect.getsource(runner)
    for name in scenarios.SCENARIOS:
        assert f'"{name}"' not in src, name
    assert "scenario ==" not in src
    assert len(inspect.getsource(runner.run_once).splitlines()) < 300


def test_every_scenario_has_a_victim_program():
    from oomnb.collect import victim
    for name, sc in scenarios.SCENARIOS.items():
        assert (sc.victim or name) in victim.VICTIMS, name


@pytest.fixture
def extra_scenario():
    class SlowExit(scenarios.Scenario):
        name = "slow-exit-test"
        description = "a test scenario: {aio_nr} reads on a throttled loop device"
        loop, iops = True, 2
        victim = "aio-blocked"

    sc = scenarios.register(SlowExit())
    yield sc
    del scenarios.SCENARIOS[sc.name]


def test_a_registered_scenario_is_everywhere(extra_scenario, capsys, tmp_path, monkeypatch):
    assert runner.SCENARIOS[extra_scenario.name] is extra_scenario
    with pytest.raises(SystemExit):
        main(["collect", "--help"])
    assert "slow-exit-test" in capsys.readouterr().out
    assert extra_scenario.describe(runner.Options()) == "a test scenario: 128 reads on a throttled loop device"
    env = runner.Environment(euid=0)
    monkeypatch.setattr(runner, "preflight", lambda *a, **k: env)
    assert main(["collect", "--scenario", "slow-exit-test", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "slow-exit-test-256M-<next index>" in out and "reads throttled to 2 IO/s" in out
    with pytest.raises(ValueError):
        scenarios.register(extra_scenario)   # one name, one object
