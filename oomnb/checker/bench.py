"""``oomnb bench check``: exploration throughput of the model checker.

Benchmarks, not timed tests.  Runs the standard scenarios plus the
three-thread suspend scenario (``aio-blocked+suspend+second-oom/3t``) for
every version (the standard ones and the LTS kernels) and reports, per run, the full exploration (states,
transitions, states/s), the exploration of the quotient by
interchangeable threads (reduced states, states/s; only 3+ threads
reduce) and the full check (exploration + liveness).  Times are CPU
seconds of this process (one core), best of ``--repeat``.  ``fire_calls``
(``--json``) counts the times transition code ran in the full exploration;
every other transition was replayed from the memo (:mod:`oomnb.checker.memo`).
"""

from __future__ import annotations

import json
import time

THREE_THREAD_SUSPEND = "aio-blocked+suspend+second-oom/3t"


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--kernel", action="append", help="only these versions")
    parser.add_argument("--scenario", action="append",
                        help="only these scenarios (default: the standard set + "
                             f"{THREE_THREAD_SUSPEND})")
    parser.add_argument("--json", action="store_true")


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return max(best, 1e-6), out


def run(args) -> int:
    from ..kernel.properties import PROPERTIES
    from ..kernel.scenario import STANDARD, parse_scenario
    from ..kernel.versions import ALL, load_kernel
    from .explore import explore
    from .run import check

    kernels = [load_kernel(k) for k in args.kernel] if getattr(args, "kernel", None) \
        else list(ALL.values())
    scenarios = [parse_scenario(s) for s in args.scenario] if getattr(args, "scenario", None) \
        else list(STANDARD) + [parse_scenario(THREE_THREAD_SUSPEND)]
    rows = []
    for sc in scenarios:
        for k in kernels:
            te, g = _best(lambda: explore(k, sc, PROPERTIES), args.repeat)
            tq, q = _best(lambda: explore(k, sc, PROPERTIES, symmetry=True, unfold=False),
                          args.repeat)
            tc, _ = _best(lambda: check(k, sc, PROPERTIES, graph=g), args.repeat)
            rows.append({"kernel": k.name, "scenario": sc.key, "states": g.n_states,
                         "transitions": g.n_edges, "fire_calls": g.fire_calls,
                         "explore_s": round(te, 4),
                         "explore_states_per_s": round(g.n_states / te),
                         "reduced_states": q.n_states, "reduced_transitions": q.n_edges,
                         "reduced_s": round(tq, 4),
                         "reduced_states_per_s": round(q.n_states / tq),
                         "liveness_s": round(tc, 4), "check_s": round(te + tc, 4)})
    tot_s = sum(r["states"] for r in rows)
    tot_r = sum(r["reduced_states"] for r in rows)
    tot_e = sum(r["explore_s"] for r in rows)
    tot_q = sum(r["reduced_s"] for r in rows)
    tot_c = sum(r["check_s"] for r in rows)
    tot_t = sum(r["transitions"] for r in rows)
    tot_f = sum(r["fire_calls"] for r in rows)
    if getattr(args, "json", False):
        print(json.dumps({"rows": rows, "total_states": tot_s, "total_reduced_states": tot_r,
                          "total_transitions": tot_t, "total_fire_calls": tot_f,
                          "explore_s": round(tot_e, 3), "reduced_s": round(tot_q, 3),
                          "check_s": round(tot_c, 3)}, indent=1))
        return 0
    print(f"{'kernel':7s}{'scenario':36s}{'states':>8s}{'trans':>9s}{'explore/s':>10s}"
          f"{'reduced':>9s}{'reduced/s':>10s}{'check s':>9s}")
    for r in rows:
        print(f"{r['kernel']:7s}{r['scenario']:36s}{r['states']:8d}{r['transitions']:9d}"
              f"{r['explore_states_per_s']:10d}{r['reduced_states']:9d}"
              f"{r['reduced_states_per_s']:10d}{r['check_s']:9.2f}")
    print(f"total: {tot_s} states, explore {tot_e:.2f}s CPU ({tot_s / tot_e:.0f} states/s); "
          f"reduced {tot_r} states, {tot_q:.2f}s ({tot_r / tot_q:.0f} states/s); "
          f"check (explore + liveness) {tot_c:.2f}s")
    print(f"transition code run {tot_f} times for {tot_t} transitions "
          "(the rest replayed from the memo)")
    return 0
