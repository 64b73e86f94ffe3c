"""``oomnb bench conform``: replay speed (episodes x versions per second)."""

from __future__ import annotations

import time


def add_arguments(p):
    p.add_argument("paths", nargs="*", default=None, help="data sets (default: the shipped data/)")


def run(args) -> int:
    from .. import trace
    from . import VERSIONS, conform, episodes_of
    paths = args.paths or [str(trace.data_dir())]
    t0 = time.perf_counter()
    eps = episodes_of(trace.load(paths))
    t1 = time.perf_counter()
    res = conform(eps, VERSIONS)
    t2 = time.perf_counter()
    res2 = conform(eps, VERSIONS)       # state graphs cached now
    t3 = time.perf_counter()
    n = len(res.cells)
    nodes = sum(c.replay.nodes for c in res2.cells if c.replay)
    print(f"read {len(eps)} episodes: {t1 - t0:.2f} s")
    print(f"replay {len(eps)} x {len(VERSIONS)} = {n} cells: {t2 - t1:.2f} s "
          f"(first, exploring state graphs), {t3 - t2:.2f} s (cached graphs), "
          f"{nodes} search nodes")
    return 0
