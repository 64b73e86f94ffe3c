"""The explorer's compiled plan: which transitions to try in a state, as code.

For one exploration (kernel, scenario, number of threads) the transition
table is turned into the source of one function ``expand(state, code)``
that tries every transition instance in table order (per-thread ones
thread by thread) and returns the non-empty effects.  Each transition's
pre-checks (:mod:`oomnb.checker.guards`) are written inline as plain tests
of the state's fields (unpacked into locals once per state) and of each
thread's pc, so a disabled transition costs one or two comparisons; a
transition whose guard is false for this kernel and scenario is left out.
Where the pre-checks pass, the instance's effect is looked up in its memo
(:mod:`oomnb.checker.memo`) by the code of the fields it reads
(``code & key``), and ``fire`` runs only on a miss.  The function is
generated from the table, so new transitions, guards and State fields
need nothing here.
"""

from __future__ import annotations

from ..kernel.state import State
from .guards import Guard, guard_of
from .memo import Memo

FIELD_INDEX = {f: n for n, f in enumerate(State._fields)}


class Plan:
    """``expand(s, code) -> [(slot, entry), ...]`` in table order, ``entry``
    as in :class:`~oomnb.checker.memo.Memo`; ``slots[slot] = (table index,
    transition, instance)``, ``memos[slot]`` its memo.  Instances
    of a per-thread step are the threads (``nthreads`` of them, fixed for an
    exploration); other state-dependent instances get a slot when they first
    occur."""

    def __init__(self, kernel, scenario, trans, nthreads: int, codec, use_guards: bool = True):
        self.slots = []
        self.memos = []
        self._slot_of = {}
        self.tables = []        # per-slot lists of the caller, grown with new slots
        self.kernel, self.scenario, self.codec = kernel, scenario, codec
        ns = {"k": kernel, "sc": scenario, "sorted": sorted, "set": set, "_slot": self.slot,
              "_memos": self.memos}
        self._ns = ns
        th = FIELD_INDEX["th"]
        body = []
        uses_pc = False
        for tidx, t in enumerate(trans):
            gd = (guard_of(t.fire) if use_guards else None) or Guard()
            if gd.disabled_for(kernel, scenario):
                continue
            conds = []
            for m, (fi, vals) in enumerate(gd.fields):
                ns[f"V{tidx}_{m}"] = frozenset(vals)
                conds.append(f"f{fi} in V{tidx}_{m}")
            conds += [f"f{fi}" for fi in gd.truthy] + [f"not f{fi}" for fi in gd.falsy]
            code = []
            if t.per == "thread":
                pcs = gd.pcs
                if pcs is not None:
                    ns[f"P{tidx}"] = frozenset(pcs)
                    uses_pc = True
                for j in range(nthreads):
                    call = self._try(self.slot(tidx, t, j))
                    code += ([f"if pc{j} in P{tidx}:"] + _indent(call)) if pcs is not None \
                        else call
            elif t.per != "none":
                # instances that depend on the state (a timer per thread that armed one):
                # Transition.instances, inline for timers; slots made as instances appear
                ns[f"T{tidx}"] = t
                inst = f"sorted(set(f{FIELD_INDEX['rtimers']}))" if t.per == "timer" \
                    else f"T{tidx}.instances(k, sc, s)"
                code += [f"for i in {inst}:",
                         f"    sl = _slot({tidx}, T{tidx}, i)",
                         "    e = _memos[sl].lookup(s, c)",
                         "    if e: app((sl, e))"]
            else:
                code += self._try(self.slot(tidx, t, None))
            body.append(f"# {t.key}")
            body += ([f"if {' and '.join(conds)}:"] + _indent(code)) if conds else code
        head = ["def expand(s, c):", "    out = []", "    app = out.append",
                f"    {', '.join(f'f{j}' for j in range(len(State._fields)))}, = s"]
        if uses_pc:
            head += [f"    if len(f{th}) != {nthreads}:",
                     "        raise ValueError('the number of threads changed')"]
            head += [f"    pc{j} = f{th}[{j}][0]" for j in range(nthreads)]
        self.source = "\n".join(head + _indent(body) + ["    return out", ""])
        exec(compile(self.source, f"<plan {kernel.name} {scenario.key}>", "exec"), ns)
        self.expand = ns["expand"]

    def _try(self, sl) -> list:
        """The lines that look slot ``sl``'s effect up (``fire`` on a miss)."""
        return [f"e = D{sl}.get(c & K{sl})",
                "if e is None:",
                f"    e = M{sl}.record(s, c)",
                f"if e: app(({sl}, e))"]

    def _bind(self, m, sl):
        self._ns.update({f"M{sl}": m, f"D{sl}": m.table, f"K{sl}": m.key})

    def slot(self, tidx, t, i) -> int:
        key = (tidx, i)
        sl = self._slot_of.get(key)
        if sl is None:
            sl = self._slot_of[key] = len(self.slots)
            self.slots.append((tidx, t, i))
            m = Memo(t.fire, self.kernel, self.scenario, i, self.codec,
                     on_change=lambda m, sl=sl: self._bind(m, sl))
            self.memos.append(m)
            self._bind(m, sl)
            for table, make in self.tables:
                table.append(make(t))
        return sl

    def per_slot(self, make) -> list:
        """A list with ``make(transition)`` per slot, kept as long as the slots."""
        table = [make(t) for _, t, _ in self.slots]
        self.tables.append((table, make))
        return table


def _indent(lines):
    return ["    " + ln for ln in lines]
