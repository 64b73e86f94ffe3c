"""``oomnb bench check``: exploration throughput of the model checker.

Benchmarks, not timed tests: runs the standard scenarios for every version
(``--repeat`` times, best of) and reports states, transitions and
states/s for the exploration alone and for the full check (exploration +
liveness).  The lead wires this into ``oomnb bench``.
"""

from __future__ import annotations

import json
import time


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--kernel", action="append", help="only these versions")
    parser.add_argument("--json", action="store_true")


def run(args) -> int:
    from ..kernel.properties import PROPERTIES
    from ..kernel.scenario import STANDARD
    from ..kernel.versions import VERSIONS, load_kernel
    from .explore import explore
    from .run import check

    kernels = [load_kernel(k) for k in args.kernel] if getattr(args, "kernel", None) \
        else list(VERSIONS.values())
    rows = []
    for sc in STANDARD:
        for k in kernels:
            best_e = best_c = float("inf")
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                g = explore(k, sc, PROPERTIES)
                t1 = time.perf_counter()
                check(k, sc, PROPERTIES, graph=g)
                t2 = time.perf_counter()
                best_e = min(best_e, t1 - t0)
                best_c = min(best_c, t2 - t0)
            rows.append({"kernel": k.name, "scenario": sc.key, "states": g.n_states,
                         "transitions": g.n_edges, "explore_s": round(best_e, 4),
                         "check_s": round(best_c, 4),
                         "explore_states_per_s": round(g.n_states / best_e),
                         "check_states_per_s": round(g.n_states / best_c)})
    tot_s = sum(r["states"] for r in rows)
    tot_e = sum(r["explore_s"] for r in rows)
    tot_c = sum(r["check_s"] for r in rows)
    if getattr(args, "json", False):
        print(json.dumps({"rows": rows, "total_states": tot_s, "explore_s": round(tot_e, 3),
                          "check_s": round(tot_c, 3)}, indent=1))
        return 0
    print(f"{'kernel':7s}{'scenario':36s}{'states':>8s}{'trans':>8s}{'explore/s':>11s}"
          f"{'check/s':>9s}")
    for r in rows:
        print(f"{r['kernel']:7s}{r['scenario']:36s}{r['states']:8d}{r['transitions']:8d}"
              f"{r['explore_states_per_s']:11d}{r['check_states_per_s']:9d}")
    print(f"total: {tot_s} states; explore {tot_e:.2f}s ({tot_s / tot_e:.0f} states/s); "
          f"check {tot_c:.2f}s ({tot_s / tot_c:.0f} states/s)")
    return 0
