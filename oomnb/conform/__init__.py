"""Model meets reality: real (or simulated) episodes replayed through the model.

Trace validation in the TLA+ sense: for every episode and every kernel
version, search the version's state graph for a behaviour whose
observations are the episode's observed events, in order (a cursor over
the observed sequence; each model step consumes the next events or is
silent; all of them must be consumed).  What is compared is behaviour,
not instrumentation: observed events stand for abstract observations
(:mod:`oomnb.events`), so a version without the ``oom:`` tracepoints is
judged by what it would have done.  Timing is checked apart
(:mod:`oomnb.conform.timing`)::

    from oomnb import conform
    res = conform.conform_paths(["data/"])        # every episode x version
    res.df()                                     # one row per cell
    res.matrix()                                 # episodes x versions
    print(res.explain("kvm2-cgroup1-linux6.18/aio-blocked-256M-0/21571", "v4.9"))

Which model scenario an episode is replayed in: the run's collector
scenario mapped by :func:`oomnb.model.model_scenario` (with the victim's
thread count); ``+second-oom`` is added only when another process was
killed during the episode (the environment did invoke the OOM killer
again).  An episode without a scenario (a user's own capture) is replayed
in :data:`ANY_ENVIRONMENT`: every modelled obstruction present and free to
resolve at any step, so the verdict does not depend on a guess of what the
environment did.  A collector scenario the model has no counterpart for
gets no verdict ("no model scenario").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .. import events as ev
from .. import model
from ..errors import OomnbError
from ..kernel.scenario import parse_scenario
from . import timing
from .observed import Episode, Observed, episodes_of, episodes_of_tables
from .replay import Replay, describe_state, replay_episode

VERSIONS = ("v4.5", "v4.8", "v4.9", "v4.19", "v5.15", "v6.1", "v6.12", "v6.18")
#: the environment of an episode nobody described: in-flight AIO and a held
#: mmap lock, each of which may resolve at any step (or never)
ANY_ENVIRONMENT = "aio-blocked+mmap-lock"

CONFORMS, FAILS, NO_SCENARIO = "conforms", "does not conform", "no model scenario"


def scenario_for(episode: Episode, override: str | None = None):
    """(model Scenario or None, note) for an episode."""
    threads = episode.threads
    other = any(o.what == ev.KILL_OTHER for o in episode.events)
    extra = "+second-oom" if other else ""
    if override:
        return parse_scenario(override + extra, threads), "scenario given"
    if episode.scenario is None:
        toks = ANY_ENVIRONMENT + ("+dstate-thread" if threads >= 2 else "") + extra
        return parse_scenario(toks, threads), "no scenario recorded: any environment"
    m = model.SCENARIOS.get(episode.scenario)
    if m is None or m.model is None:
        return None, f"collector scenario {episode.scenario!r} has no model counterpart"
    sc = parse_scenario(m.model + extra, threads)
    return sc, m.note


@dataclass
class Cell:
    episode: Episode
    version: str
    scenario: object            # Scenario or None
    note: str
    replay: Replay | None
    checks: list = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.replay is None:
            return NO_SCENARIO
        return self.replay.verdict

    @property
    def timing(self) -> str:
        if not self.checks:
            return "-"
        return "ok" if all(c.ok for c in self.checks) else "impossible"

    def row(self) -> dict:
        e, r = self.episode, self.replay
        un = r.unexplained if r is not None else None
        bad = [c for c in self.checks if not c.ok]
        return {
            "episode": e.id, "machine": e.machine, "run": e.run, "pid": e.pid,
            "scenario": e.scenario, "model_scenario": self.scenario.key if self.scenario else None,
            "version": self.version, "ordering": self.verdict,
            "observed": len(e.events), "explained": r.consumed if r else 0,
            "first_unexplained": un.label() if un else None,
            "first_unexplained_event": un.event if un else None,
            "first_unexplained_at": short_where(un.where) if un else None,
            "timing": self.timing, "timing_checks": len(self.checks),
            "timing_first_impossible": str(bad[0]) if bad else None,
        }


@dataclass
class Result:
    cells: list
    episodes: list

    def df(self) -> pd.DataFrame:
        return pd.DataFrame([c.row() for c in self.cells])

    def matrix(self, what: str = "ordering") -> pd.DataFrame:
        """Episodes x versions, grouped by scenario and machine."""
        d = self.df()
        if d.empty:
            return d
        d = d.assign(scenario=d.scenario.fillna("-"), machine=d.machine.fillna("-"))
        m = d.pivot(index=["scenario", "machine", "episode"], columns="version", values=what)
        cols = [v for v in VERSIONS if v in m.columns] + [v for v in m.columns if v not in VERSIONS]
        return m[cols].sort_index()

    def summary(self) -> pd.DataFrame:
        """Per scenario and version: episodes that conform / all."""
        d = self.df()
        d["ok"] = d.ordering == CONFORMS
        d["timing_ok"] = d.timing != "impossible"
        g = d.groupby(["scenario", "version"], dropna=False)
        s = g.agg(episodes=("ok", "size"), ordering=("ok", "sum"),
                  ordering_and_timing=("timing_ok", lambda x: int((x & d.loc[x.index, "ok"]).sum())))
        return s.reset_index()

    def summary_table(self) -> pd.DataFrame:
        """:meth:`summary` as a table: rows scenarios, columns (ordering /
        ordering and timing, version), the versions oldest first."""
        s = self.summary().pivot(index="scenario", columns="version",
                                 values=["ordering", "ordering_and_timing"]).astype(int)
        order = [v for v in VERSIONS if v in s.columns.get_level_values(1)]
        order += sorted({v for v in s.columns.get_level_values(1)} - set(order))
        return s.reindex(columns=pd.MultiIndex.from_product(
            [["ordering", "ordering_and_timing"], order], names=[None, "version"]))

    def cell(self, episode: str, version: str) -> Cell:
        eps = [e for e in self.episodes if e.id == episode] or \
              [e for e in self.episodes if episode in e.id]
        if not eps:
            raise OomnbError(f"no episode matches {episode!r} (have: "
                             f"{', '.join(e.id for e in self.episodes[:5])}...)")
        if len({e.id for e in eps}) > 1:
            raise OomnbError(f"{episode!r} matches {len(eps)} episodes: "
                             f"{', '.join(e.id for e in eps[:5])}")
        for c in self.cells:
            if c.episode.id == eps[0].id and c.version == version:
                return c
        raise OomnbError(f"version {version!r} was not replayed (have: "
                         f"{', '.join(sorted({c.version for c in self.cells}))})")

    def explain(self, episode: str, version: str) -> str:
        return explain_cell(self.cell(episode, version))


def replay_cell(e: Episode, version: str, scenario: str | None = None, cal=None) -> Cell:
    sc, note = scenario_for(e, scenario)
    r = replay_episode(e, version, sc) if sc is not None else None
    return Cell(e, version, sc, note, r, [] if e.emulated else timing.checks(e, version, cal))


def conform(episodes, versions=VERSIONS, *, scenario: str | None = None, cal=None) -> Result:
    cells = [replay_cell(e, v, scenario, cal) for e in episodes for v in versions]
    return Result(cells, list(episodes))


def conform_paths(paths, versions=VERSIONS, *, scenario: str | None = None, cal=None,
                  **trace_kw) -> Result:
    """Read ``paths`` (data sets, traces, logs) and replay every episode."""
    from .. import trace
    tr = trace.load([str(p) for p in paths], **trace_kw)
    return conform(episodes_of(tr), versions, scenario=scenario, cal=cal)


def conform_simulation(eps, versions=VERSIONS, *, cal=None) -> Result:
    """Simulated episodes (:func:`oomnb.sim.simulate` with ``record=True``)
    through the same replay as real ones, in the model scenario they were
    simulated in."""
    from .. import sim
    c = eps.compiled
    evt = sim.events_table(eps)
    epi = sim.episodes_table(eps)
    es = episodes_of_tables(evt, epi, scenario=c.scenario.name, threads=c.scenario.threads,
                            release=c.kernel.release)
    return conform(es, versions, scenario=c.scenario.name, cal=cal)


def evidence(e: Episode) -> str:
    """How much an episode constrains: "N observed events constrain the order"."""
    n = len(e.events)
    st = sum(1 for o in e.events if o.state or o.what == ev.REAPER_WAKE)
    return (f"{n} observed event{'s' if n != 1 else ''} constrain the order "
            f"({st} checked as states)")


def short_where(where: str) -> str:
    """``.../machine/run/trace.txt:19`` -> ``machine/run/trace.txt:19``."""
    parts = where.replace("\\", "/").split("/")
    return "/".join(parts[-3:])


def explain_cell(c: Cell) -> str:
    e, r = c.episode, c.replay
    lines = [f"episode {e.id} in {c.version}"
             + (f", model scenario {c.scenario.key} ({c.note})" if c.scenario else ""),
             evidence(e) + f"; {len(c.checks)} timing check{'s' if len(c.checks) != 1 else ''}"]
    lines += [f"note: {n}" for n in e.notes]
    lines.append("observed: " + ", ".join(o.label() for o in e.events))
    if r is None:
        lines.append(f"verdict: {NO_SCENARIO} ({c.note})")
        return "\n".join(lines)
    lines.append(f"ordering: {r.verdict} ({r.consumed} of {r.n_observed} explained)")
    lines.append("binding: " + ", ".join(f"{k}={v}" for k, v in sorted(r.binding.items())))
    lines.append("path:")
    for n, s in enumerate(r.path, 1):
        what = ", ".join(e.events[i].label() for i in s.consumed)
        if s.edge is None:
            lines.append(f"  {n:3d}. (state) {what} holds")
        else:
            inst = "" if s.edge.instance is None else f"[{s.edge.instance}]"
            lines.append(f"  {n:3d}. {s.edge.actor:10s} {s.edge.key}{inst}"
                         + (f"  -> {what}" if what else ""))
    if not r.conforms:
        u = r.unexplained
        lines.append(f"first unexplained: #{r.unexplained_index + 1} {u.label()} "
                     f"({u.event}, {short_where(u.where)})")
        lines.append(f"model state there: {describe_state(r.state)}")
        lines.append("enabled there: " + "; ".join(
            f"{k}{'' if i is None else f'[{i}]'}" + (f" -> {', '.join(o)}" if o else " (silent)")
            for k, i, o in r.enabled))
        lines.append("the model could show next: " + ("; ".join(r.could_show) or "nothing"))
    if c.checks:
        lines.append("timing:")
        lines += [f"  {ch}" for ch in c.checks]
    return "\n".join(lines)


def conclusion(res: Result) -> str:
    """The conclusion in plain text (<= 72 columns), numbers from ``res``."""
    import textwrap
    d = res.df()
    eps = res.episodes
    tot = len(eps)
    real = [e for e in eps if not e.emulated]
    emu = [e for e in eps if e.emulated]

    def kernels(es):
        rel = sorted({e.release or "?" for e in es}, key=lambda r: (ev.release(r) or (99,), r))
        return ", ".join(rel)

    v618 = int(((d.version == "v6.18") & (d.ordering == CONFORMS)).sum())
    reap = {e.id for e in eps if any(o.what in (ev.REAPER_WAKE, ev.REAP_START, ev.REAP_SKIP,
                                                ev.REAP_FINISH, ev.REAP_UNABLE) for o in e.events)}
    v45 = d[(d.version == "v4.5") & d.episode.isin(reap)]
    v45_ok = int((v45.ordering == CONFORMS).sum())
    aio = d[(d.version == "v4.9") & (d.scenario == "aio-blocked")]
    stuck = int((aio.first_unexplained_event == ev.START_TASK_REAPING).sum())
    paras = [
        f"Replaying {tot} OOM episodes through the model of each version: "
        f"{len(real)} from {len({e.machine for e in real})} machines running Linux "
        f"{kernels(real)}, and {len(emu)} recorded in QEMU (TCG) guests running Linux "
        f"{kernels(emu)}, whose order is compared but not their durations. v6.18 explains "
        f"{v618} of {tot}, including the trylock failures (ten skip_task_reaping, then "
        f"'unable to reap'), the frozen victims and the suspend runs.",
        f"v4.5, without an oom_reaper, explains {v45_ok} of the {len(v45)} episodes with a "
        f"reaper event. Where stack samples show the victim waiting in __mmput -> exit_aio "
        f"({stuck} of {len(aio)} aio-blocked episodes), v4.9 and v4.8 cannot explain the reap "
        f"that followed: their gates (mmget_not_zero, find_lock_task_mm) stop the reaper "
        f"there. Without stack samples the order alone does not refute them; the timing does "
        f"(a 2 s kill -> wake gap, which only the OOM_REAPER_DELAY timer explains).",
    ]
    return "\n\n".join(textwrap.fill(p, 68) for p in paras)


__all__ = ["conclusion", "VERSIONS", "ANY_ENVIRONMENT", "Cell", "Result", "Episode", "Observed", "conform",
           "conform_paths", "replay_cell", "replay_episode", "scenario_for", "explain_cell",
           "episodes_of", "evidence", "CONFORMS", "FAILS", "NO_SCENARIO"]
