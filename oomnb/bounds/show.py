"""Tables, LaTeX and plain text of the bounds, for notebooks and the writeup."""

from __future__ import annotations

import textwrap

import pandas as pd
import sympy as sp

from ..kernel import timing
from . import derive as D
from . import rank


def _slots(slots) -> str:
    return " + ".join(p if e is None else f"{p}(n={sp.sstr(e)})" for p, e in slots) or "-"


def components_frame(names=None) -> pd.DataFrame:
    """Each component: what it measures and the value of each phase."""
    rows = []
    for c in names or rank.COMPONENTS:
        comp = rank.COMPONENTS[c]
        for ph, e in comp.table.items():
            rows.append({"component": c, "phase": ph, "value": sp.sstr(e)})
    return pd.DataFrame(rows)


def component_latex(name: str) -> str:
    comp = rank.COMPONENTS[name]
    return rf"V_{{\mathrm{{{name}}}}}:\ " + comp.latex()


def rank_latex(k, prop: str) -> str:
    comps = rank.rank_for(k, prop)
    if not comps:
        return r"\text{none (the property does not hold)}"
    return r"\rho_{\mathrm{" + prop.replace("_", r"\_") + "}}(s) = (" + ",\\ ".join(
        rf"V_{{\mathrm{{{c}}}}}(s)" for c in comps) + r")\ \text{(lexicographic)}"


def moves_frame(names=None) -> pd.DataFrame:
    """Every declared move: what it removes and adds, the symbolic change
    (removed - added, under its constraint) and sympy's verdict."""
    rows = []
    for c in names or rank.COMPONENTS:
        comp = rank.COMPONENTS[c]
        for mv in comp.moves:
            rows.append({"component": c, "transition": mv.transition,
                         "removes": _slots(mv.removed) + (" (+ any " + ",".join(mv.also_removes)
                                                          + ")" if mv.also_removes else ""),
                         "adds": _slots(mv.added), "where": mv.where or "-",
                         "decrease": sp.sstr(mv.delta(comp)), "sympy": rank.move_kind(comp, mv),
                         "waited for": mv.waits, "why": mv.why})
    return pd.DataFrame(rows)


def moves_latex(name: str, transitions=None) -> str:
    """The moves of one component as aligned LaTeX: V(before) - V(after) = delta."""
    comp = rank.COMPONENTS[name]
    lines = []
    for mv in comp.moves:
        if transitions and mv.transition not in transitions:
            continue
        before = " + ".join(D.latex(comp.phase_value(p, e)) for p, e in mv.removed) or "0"
        after = " + ".join(D.latex(comp.phase_value(p, e)) for p, e in mv.added) or "0"
        cond = {"n<R": r"\quad (n < R)", "n<=R": r"\quad (n \le R)", "n=R": r"\quad (n = R)",
                "": ""}[mv.where]
        lines.append(rf"\texttt{{{mv.transition}}}&:\ ({before}) - ({after}) = "
                     rf"{D.latex(mv.delta(comp))}{cond}")
    return r"\begin{aligned}" + r"\\ ".join(lines) + r"\end{aligned}"


def bounds_frame(records) -> pd.DataFrame:
    """One row per (bound, version): the formula and its value."""
    rows = []
    for r in records:
        val = "unbounded" if r["infinite"] else ("n/a" if r["value_s"] is None
                                                 else f"{r['value_s']:.3f}")
        fin = r.get("finite_value_s")
        rows.append({"bound": r["bound"], "version": r["kernel"], "formula (s)": r["formula"],
                     "value (s)": val,
                     "without a blocked environment (s)": "" if fin is None or not r["infinite"]
                     else f"{fin:.3f}",
                     "why": r["reason"] if r["infinite"] else ""})
    return pd.DataFrame(rows)


def markov_latex(loop) -> str:
    """The retry loop's closed forms, one per line."""
    parts = [
        (r"P(N = k)", loop.pmf),
        (r"P(\text{unable to reap})", loop.p_unable),
        (r"E[N]", loop.expected_attempts),
        (r"t_{\mathrm{start}}(k)", loop.t_start),
        (r"t_{\mathrm{unable}}", loop.t_unable),
        (r"E[L]", loop.expected_latency),
        (r"k_{q}", loop.k_quantile),
    ]
    return r"\begin{aligned}" + r"\\ ".join(f"{a} &= {D.latex(b)}" for a, b in parts) + \
        r"\end{aligned}"


def writeup(records, msum: dict, mk: dict, width: int = 72) -> str:
    """The plain-text block: each bound per version, the measurements, the
    p**R analysis."""
    out = []
    w = textwrap.TextWrapper(width=width)
    out += w.wrap(
        "Worst-case times derived from the model's state graph: the longest "
        "path in time through the states where the property's antecedent "
        "holds and its consequent does not yet, counting the delay of every "
        "step that decreases the version's ranking function (checked on "
        "every reachable state of the standard scenarios). Unbounded where "
        "a fair path never gets there; the reason is the checker's cycle. "
        "Values: HZ=250, R=MAX_OOM_REAP_RETRIES=10, parameters calibrated "
        "from the shipped data at their slow end.")
    by = {}
    for r in records:
        by.setdefault(r["bound"], []).append(r)
    for name, rs in by.items():
        out.append("")
        out.append(D.BY_NAME[name].title + ":")
        for r in rs:
            if r["infinite"]:
                body = "unbounded: " + r["reason"]
                if r.get("finite_value_s") is not None:
                    body += f" (otherwise {r['finite_value_s']:.2f} s)"
            elif r["value_s"] is None:
                body = "n/a"
            else:
                body = f"{r['value_s']:.2f} s = {r['formula']}"
            out += textwrap.wrap(body, width, initial_indent=f"  {r['kernel']:6s} ",
                                 subsequent_indent=" " * 9)
    out.append("")
    out += w.wrap(
        f"Measured on Linux 6.18 ({msum['latencies']['kill_to_reap_start']} kill->reap "
        f"start, {msum['latencies']['kill_to_reap_finish']} kill->reap finish, "
        f"{msum['latencies']['kill_to_unable']} kill->give-up latencies): "
        + ("all lie under the v6.18 bound" if msum["all_under"] else
           f"{msum['violations']} lie ABOVE the v6.18 bound")
        + f" (smallest margin {msum['smallest_margin_s'] * 1e3:.3f} ms).")
    out.append("")
    out += w.wrap(
        "If each mmap trylock fails independently with probability p, the "
        "reaper gives up with probability p**R; the attempts are "
        "min(Geometric(1-p), R) and E[attempts] = (1 - p**R)/(1 - p).")
    out.append("     p   P(unable)  E[kill->done]  99% kill->last attempt")
    for p_, pu, el, q99 in zip(mk["p"], mk["p_unable"], mk["expected_latency"],
                               mk["quantile_latency"]):
        out.append(f"  {p_:4.2f}  {pu:10.3g}  {el:11.3f} s  {q99:20.3f} s")
    return "\n".join(out)


__all__ = ["components_frame", "component_latex", "rank_latex", "moves_frame", "moves_latex",
           "bounds_frame", "markov_latex", "writeup", "timing"]
