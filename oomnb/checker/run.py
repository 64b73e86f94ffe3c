"""Run the checker on (kernel, scenario) pairs and collect verdicts.

Verdicts come only from exploring the model (:func:`check`); stored
oracles (``oomnb/checker/expected/``, shipped with the package) are compared afterwards by
:func:`compare_oracle` and never consulted to decide.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel.properties import PROPERTIES, standard_properties
from ..kernel.state import SHARER
from ..kernel.state import (KWORKER, LOCK_NAMES, MEM_NAMES, P_NAMES, PC_NAMES, R_NAMES, TP_NAMES,
                            VMAS_NAMES)
from ..kernel.transitions import task_label
from .explore import MAX_STATES, explore
from .liveness import check_leadsto

ORACLE = Path(__file__).resolve().parent / "expected" / "standard.json"
#: the LTS kernels' oracle (same format; read together with ORACLE)
LTS_ORACLE = Path(__file__).resolve().parent / "expected" / "lts.json"
#: scenarios outside the standard set, every version (same format)
MECH_ORACLE = Path(__file__).resolve().parent / "expected" / "mechanisms.json"


@dataclass
class Step:
    n: int
    actor: str
    function: str
    key: str
    instance: object
    changes: list
    loop: bool = False
    pre: object = None       # the State before the step (for replays; not in JSON)
    post: object = None
    lane: str = ""           # swimlane column (the actor)

    def as_dict(self):
        return {"n": self.n, "actor": self.actor, "function": self.function, "transition": self.key,
                "instance": self.instance, "changes": self.changes, "loop": self.loop}


@dataclass
class Verdict:
    prop: str
    verdict: str                  # holds | violated | vacuous | out-of-scope
    note: str = ""
    steps: list = field(default_factory=list)
    bound: dict | None = None

    @property
    def short(self) -> str:
        return {"holds": "holds", "violated": "VIOLATED", "vacuous": "vacuous",
                "out-of-scope": "n/a"}[self.verdict]

    def as_dict(self):
        return {"property": self.prop, "verdict": self.verdict, "note": self.note,
                "bound": self.bound, "counterexample": [s.as_dict() for s in self.steps]}


@dataclass
class Result:
    kernel: object
    scenario: object
    mode: str
    states: int
    transitions: int
    generated: int
    depth: int
    seconds: float
    verdicts: dict
    graph: object = None

    def as_dict(self):
        return {"kernel": self.kernel.name, "scenario": self.scenario.key, "fairness": self.mode,
                "states": self.states, "transitions": self.transitions, "generated": self.generated,
                "depth": self.depth, "seconds": round(self.seconds, 3),
                "states_per_second": round(self.states / self.seconds) if self.seconds else None,
                "verdicts": {k: v.as_dict() for k, v in self.verdicts.items()}}


def _fmt_val(k, name, v):
    if name in ("mmf", "w_mmf"):
        return k.fmt_flags(v)
    if name in ("mem", "w_mem"):
        return MEM_NAMES[v]
    if name == "vmas":
        return VMAS_NAMES[v]
    if name == "rpc":
        return R_NAMES[v]
    if name == "pm":
        return P_NAMES[v]
    if name == "oom_lock":
        return LOCK_NAMES[v]
    if name == "tpc":
        return TP_NAMES[v]
    if name == "mrpc":
        from ..kernel.state import MR_NAMES
        return MR_NAMES[v]
    if name == "town":
        return "-" if v < 0 else ("kworker" if v == KWORKER else ("S" if v == SHARER else f"T{v}"))
    if name in ("rlist", "rtimers"):
        return "[" + ",".join(task_label(x) for x in v) + "]"
    if name == "rtask":
        return "-" if v < 0 else task_label(v)
    return str(v)


def diff_states(k, a, b) -> list:
    """Human-readable changed fields between two states."""
    out = []
    for i, (ta, tb) in enumerate(zip(a.th, b.th)):
        if ta[0] != tb[0]:
            out.append(f"T{i}.pc={PC_NAMES[ta[0]]}->{PC_NAMES[tb[0]]}")
        if ta[1] != tb[1]:
            out.append(f"T{i}.TIF_MEMDIE={ta[1]}->{tb[1]}")
    for name in a._fields[1:]:
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            if name == "ratt" and (b.rpc == 0 or a.rpc == 0):
                continue
            if name == "rnext":
                continue
            out.append(f"{name}={_fmt_val(k, name, va)}->{_fmt_val(k, name, vb)}")
    return out


def steps_of(g, path, start=1, loop=False) -> list:
    steps = []
    for n, (u, lid, v) in enumerate(path, start):
        t, i, actor, tags = g.labels[lid]
        lane = actor
        steps.append(Step(n, actor, g.kernel.fn_name(t), t.key, i,
                          diff_states(g.kernel, g.states[u], g.states[v]), loop,
                          g.states[u], g.states[v], lane))
    return steps


def check(kernel, scenario, props=PROPERTIES, mode: str = "standard", progress=False,
          keep_graph=False, graph=None, symmetry=False, max_states=MAX_STATES) -> Result:
    """Explore ``kernel`` x ``scenario`` and decide every property.
    ``symmetry``: explore the quotient by interchangeable threads and
    unfold it (same graph, same verdicts; :mod:`oomnb.checker.symmetry`).
    The default property set is the scenario's
    (:func:`oomnb.kernel.properties.standard_properties`)."""
    if props is PROPERTIES:
        props = standard_properties(scenario)
    t0 = time.perf_counter()
    g = graph if graph is not None else explore(kernel, scenario, props, progress=progress,
                                                symmetry=symmetry, max_states=max_states)
    verdicts = {}
    for p in props:
        if p.shape in ("invariant", "edge"):
            hit = g.safety.get(p.name)
            if hit is not None:
                sid, lid, dst = hit
                path = g.path_to(sid)
                if lid is not None:
                    path = path + [(sid, lid, dst)]
                verdicts[p.name] = Verdict(p.name, "violated", steps=steps_of(g, path))
            elif not g.antecedent.get(p.name, True):
                verdicts[p.name] = Verdict(p.name, "vacuous", note=_vac_note(p.name))
            else:
                verdicts[p.name] = Verdict(p.name, "holds")
        else:
            lt = check_leadsto(g, p, mode)
            if lt.verdict == "violated":
                st = steps_of(g, lt.prefix) + steps_of(g, lt.middle, len(lt.prefix) + 1)
                lp = steps_of(g, lt.loop, len(st) + 1, loop=True)
                note = "fair lasso: the last state stutters forever" if not lp else \
                    f"fair lasso: steps {lp[0].n}-{lp[-1].n} repeat forever"
                verdicts[p.name] = Verdict(p.name, "violated", note=note, steps=st + lp,
                                           bound=lt.bound)
            else:
                verdicts[p.name] = Verdict(p.name, lt.verdict, note=lt.reason, bound=lt.bound)
    secs = time.perf_counter() - t0      # exploration (if done here) + property checks
    return Result(kernel, scenario, mode, g.n_states, g.n_edges, g.generated, g.max_depth, secs,
                  verdicts, g if keep_graph else None)


def _vac_note(name):
    return {
        "no_mm_use_after_free": "nothing dereferences the mm remotely",
        "no_reap_after_teardown": "the reaper never walks the VMAs",
        "disable_contract[tif]": "oom_killer_disable() never returns true",
        "disable_contract[group]": "oom_killer_disable() never returns true",
        "disable_contract[do_exit]": "oom_killer_disable() never returns true",
        "suspend_exclusion[tif]": "freeze_processes() never returns 0",
        "suspend_exclusion[group]": "freeze_processes() never returns 0",
        "suspend_exclusion[do_exit]": "freeze_processes() never returns 0",
        "no_premature_kill": "no second victim is ever selected",
        "reaper_queue_integrity": "nothing is ever queued for a reaper",
        "oom_victims_accounting": "no thread ever gets TIF_MEMDIE",
    }.get(name, "antecedent never holds")


# ------------------------------------------------------------------ oracles

def load_oracle(path: Path = ORACLE) -> dict:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    for extra in (LTS_ORACLE, MECH_ORACLE):
        if path == ORACLE and extra.is_file():
            for sc, per in json.loads(extra.read_text()).items():
                data.setdefault(sc, {}).update(per)
    return data


def oracle_entry(result: Result) -> dict:
    return {"states": result.states, "transitions": result.transitions, "depth": result.depth,
            "verdicts": {k: v.verdict for k, v in result.verdicts.items()}}


def compare_oracle(result: Result, oracle: dict) -> dict:
    """{prop: 'ok' | 'DIFF(expected)' | 'no-oracle'} plus '_counts'."""
    exp = oracle.get(result.scenario.key, {}).get(result.kernel.name)
    if exp is None or result.mode != "standard":
        return {p: "no-oracle" for p in result.verdicts} | {"_counts": "no-oracle"}
    out = {}
    for p, v in result.verdicts.items():
        e = exp["verdicts"].get(p)
        out[p] = "no-oracle" if e is None else ("ok" if e == v.verdict else f"DIFF({e})")
    same = (exp["states"], exp["transitions"], exp["depth"]) == (result.states, result.transitions,
                                                                  result.depth)
    out["_counts"] = "ok" if same else (f"DIFF({exp['states']}/{exp['transitions']}/"
                                        f"{exp['depth']})")
    return out
