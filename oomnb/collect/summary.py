"""End-of-collection summary, through the readers (oomnb.trace) when they exist."""

from __future__ import annotations

import sys


def print_summary(machine_dir, run_dirs: list[str], file=None) -> None:
    out = file or sys.stdout
    print(f"collected {len(run_dirs)} run(s) into {machine_dir}", file=out)
    for d in run_dirs:
        print(f"  {d}", file=out)
