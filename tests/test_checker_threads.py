"""The thread-count comparison of notebook 01 reports what the runs say:
a verdict that changes between two thread counts is listed, and the
post's sentence counts it (results stand-ins, so both outcomes are seen)."""

from __future__ import annotations

from types import SimpleNamespace

from oomnb.checker import plots


def _res(states, **verdicts):
    return SimpleNamespace(states=states, verdicts={
        p: SimpleNamespace(verdict=v, short="VIOLATED" if v == "violated" else v)
        for p, v in verdicts.items()})


def _fake_runs(change_at_3):
    def runs(scenario):
        out = {}
        for n in (1, 2, 3):
            if n == 1 and scenario.startswith("dstate"):
                continue
            bad = n == 3 and change_at_3 and scenario == plots.THREAD_SCENARIOS[0]
            out[n] = {v: _res(10 ** n, p1="holds", p2="violated" if bad and v == "v6.18"
                              else "holds") for v in plots.TABLE_ORDER}
        return out
    return runs


def test_no_change_is_said(monkeypatch):
    monkeypatch.setattr(plots, "_thread_runs", _fake_runs(False))
    text = plots.thread_counts_text()
    assert "changes no verdict" in text and "up to 1,000 states" in text
    df = plots.df_thread_counts()
    assert set(df["2t -> 3t"]) == {"-"}
    assert (df.xs("dstate-thread+suspend")["1t -> 2t"] == "n/a").all()


def test_a_change_is_listed_and_counted(monkeypatch):
    monkeypatch.setattr(plots, "_thread_runs", _fake_runs(True))
    n = len(plots.THREAD_SCENARIOS) * len(plots.TABLE_ORDER)
    assert f"changes verdicts in 1 of {n} cases" in " ".join(plots.thread_counts_text().split())
    df = plots.df_thread_counts()
    assert df.loc[(plots.THREAD_SCENARIOS[0], "v6.18"), "2t -> 3t"] == "p2 holds -> VIOLATED"
    assert (df["2t -> 3t"] != "-").sum() == 1
