"""Bounds per version and scenario, as records, tables and plain text."""

from __future__ import annotations

import math

import sympy as sp

from ..kernel import STANDARD, VERSIONS, load_kernel, parse_scenario, timing
from . import derive as D


def _kernel(v):
    return load_kernel(v) if isinstance(v, str) else v


def _scenario(s):
    return parse_scenario(s) if isinstance(s, str) else s


def bounds(kernels=None, scenarios=None, names=None, params=None, machine=None) -> list:
    """One record per (kernel, bound): the worst over ``scenarios`` (an
    infinite one wins; otherwise the largest at the parameters), with the
    per-scenario derivations.  ``params`` override the defaults
    (:func:`oomnb.bounds.derive.default_params`)."""
    machine = machine or D.default_machine()
    ks = [_kernel(v) for v in (kernels or list(VERSIONS))]
    scs = [_scenario(s) for s in (scenarios or STANDARD)]
    names = names or [b.name for b in D.BOUNDS]
    out = []
    for k in ks:
        for name in names:
            per = []
            for sc in scs:
                d = D.derive(k, sc, name)
                prm = D.default_params(k, sc, machine) | dict(params or {})
                val = D.evaluate(k, d.expr, prm) if d.expr is not None else None
                per.append((sc, d, val, prm))
            applicable = [x for x in per if x[1].expr is not None]
            if not applicable:
                out.append({"kernel": k.name, "bound": name, "title": D.BY_NAME[name].title,
                            "scenario": None, "formula": "n/a", "latex": "", "jiffies": "",
                            "value_s": None, "infinite": False,
                            "reason": "its antecedent never holds in these scenarios",
                            "per_scenario": [_rec(x) for x in per]})
                continue
            inf = [x for x in applicable if x[1].infinite or (x[2] is not None
                                                               and math.isinf(x[2]))]
            fin = [x for x in applicable if x not in inf]
            rec = {"kernel": k.name, "bound": name, "title": D.BY_NAME[name].title,
                   "per_scenario": [_rec(x) for x in per]}
            if fin:
                e = sp.Max(*[x[1].expr for x in fin])
                top = max(fin, key=lambda x: x[2])
                rec.update({"finite_formula": sp.sstr(e), "finite_latex": D.latex(e),
                            "finite_jiffies": sp.sstr(sp.Max(*[sp.expand(x[1].expr * timing.HZ)
                                                               for x in fin])),
                            "finite_value_s": top[2], "finite_worst_scenario": top[0].key,
                            "finite_scenarios": [x[0].key for x in fin]})
            if inf:
                x = inf[0]
                rec.update({"scenario": x[0].key, "formula": "oo", "latex": r"\infty",
                            "jiffies": "oo", "value_s": None, "infinite": True,
                            "reason": x[1].reason if x[1].infinite else
                            "a wait on the environment is unbounded in " + x[0].key})
            else:
                rec.update({"scenario": rec["finite_worst_scenario"],
                            "formula": rec["finite_formula"], "latex": rec["finite_latex"],
                            "jiffies": rec["finite_jiffies"], "value_s": rec["finite_value_s"],
                            "infinite": False, "reason": "worst over " +
                            ", ".join(rec["finite_scenarios"])})
            out.append(rec)
    return out


def _rec(x) -> dict:
    sc, d, val, prm = x
    return {"scenario": sc.key, "verdict": d.verdict, "formula": d.text(), "latex": d.latex(),
            "value_s": None if val is None or math.isinf(val) else val,
            "infinite": bool(d.infinite or (val is not None and math.isinf(val))),
            "reason": d.reason, "rank": list(d.rank), "checked_edges": d.checked_edges,
            "frontier": d.frontier,
            "params": {k: (None if v == float("inf") else v) for k, v in prm.items()}}


def fmt_value(r) -> str:
    if r["infinite"]:
        return "unbounded"
    if r["value_s"] is None:
        return "n/a"
    return f"{r['value_s']:.3f} s"


def text(records, width: int = 72) -> str:
    """Plain text, at most ``width`` columns: per bound, per version, the
    formula and its value."""
    import textwrap
    lines = []
    by = {}
    for r in records:
        by.setdefault(r["bound"], []).append(r)
    for name, rs in by.items():
        lines.append(D.BY_NAME[name].title + ":")
        for r in rs:
            head = f"  {r['kernel']:6s} {fmt_value(r):>12s}  "
            body = r["formula"] if not r["infinite"] else f"oo: {r['reason']}"
            if r["infinite"] and r.get("finite_formula"):
                body += (f"; otherwise {r['finite_formula']} = "
                         f"{r['finite_value_s']:.3f} s")
            lines += textwrap.wrap(body, width, initial_indent=head,
                                   subsequent_indent=" " * len(head), break_long_words=True)
        lines.append("")
    return "\n".join(lines).rstrip("\n")
