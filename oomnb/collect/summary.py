"""End-of-collection summary through the readers (:mod:`oomnb.trace`): episodes, outcome, latencies."""

from __future__ import annotations

import sys


def _ms(v) -> str:
    try:
        return "-" if v != v or v is None else f"{v * 1000:.1f}"
    except TypeError:
        return "-"


def print_summary(machine_dir, run_dirs: list[str], file=None) -> None:
    out = file or sys.stdout
    print(f"collected {len(run_dirs)} run(s) into {machine_dir}", file=out)
    if not run_dirs:
        return
    try:
        from ..trace import load
        ep = load(run_dirs).df_episodes()
    except Exception as e:  # noqa: BLE001 - the data are written; the summary is a convenience
        print(f"  (no episode summary: {type(e).__name__}: {e})", file=out)
        for d in run_dirs:
            print(f"  {d}", file=out)
        return
    print(f"  {'run':32s} {'pid':>7s} {'outcome':9s} {'kill->wake':>10s} {'reap':>8s} {'kill->free':>10s}  (ms, trace clock)",
          file=out)
    for _, r in ep.iterrows():
        print(f"  {str(r['run']):32s} {int(r['pid']):7d} {str(r['outcome']):9s} {_ms(r['kill_to_wake']):>10s} "
              f"{_ms(r['reap_duration']):>8s} {_ms(r['kill_to_free']):>10s}", file=out)
    counts = ep["outcome"].value_counts().to_dict() if len(ep) else {}
    print(f"  {len(ep)} episode(s) in {len(run_dirs)} run(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
          file=out)
    if len(ep) != len(run_dirs):
        print("  warning: expected one episode per run", file=out)
