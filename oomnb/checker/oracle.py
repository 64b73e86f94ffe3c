"""Write the stored oracle (expected verdicts and state counts) for the
standard scenarios: ``python -m oomnb.checker.oracle --write``.

The oracle is a regression record, like herd7's ``Result:`` lines: it is
written from an exploration after the verdicts were reviewed against the
kernel history (see DIFFERENCES.md), and ``oomnb check`` only compares
against it.
"""

from __future__ import annotations

import argparse
import json

from ..kernel.properties import EXTRA, PROPERTIES
from ..kernel.scenario import STANDARD, parse_scenario
from ..kernel.versions import ALL, LTS, VERSIONS
from .run import LTS_ORACLE, MECH_ORACLE, ORACLE, check, oracle_entry

#: scenarios of mechanisms outside the standard set, recorded for every version:
#: a victim thread's own OOM call (MMF_OOM_REAP_QUEUED, v5.0, separates v4.19 from
#: v5.15), process_mrelease() (v5.15+) racing the oom_reaper and exit_mmap, and
#: memory the reaper cannot unmap (both readings of no_premature_kill), an mm
#: shared with another process that may run exit_mmap itself (4837fe37adff),
#: pages pinned by in-flight direct IO and partial reaps (an MMU notifier that
#: refuses non-blocking invalidation, 93065ac753e4)
MECH_SCENARIOS = ("second-oom+victim-oom/2t", "process-mrelease/1t",
                  "second-oom+process-mrelease/2t", "second-oom+hugetlb/1t",
                  "second-oom+mlocked/1t", "second-oom+mm-sharer/1t",
                  # --- pinned and partly reaped memory
                  "second-oom+odirect/1t", "second-oom+mmu-notifier/1t")


def build(which: str = "standard") -> dict:
    """``standard``: STANDARD x VERSIONS; ``lts``: STANDARD x LTS;
    ``mechanisms``: MECH_SCENARIOS x every version, with the extra properties."""
    out = {}
    if which == "mechanisms":
        for key in MECH_SCENARIOS:
            sc = parse_scenario(key)
            out[sc.key] = {k.name: oracle_entry(check(k, sc, PROPERTIES + EXTRA))
                           for k in ALL.values()}
        return out
    kernels = LTS if which == "lts" else VERSIONS
    for sc in STANDARD:
        out[sc.key] = {k.name: oracle_entry(check(k, sc)) for k in kernels.values()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--lts", action="store_true", help="the LTS kernels' oracle (lts.json)")
    ap.add_argument("--mechanisms", action="store_true",
                    help="the oracle of the scenarios outside the standard set (mechanisms.json)")
    a = ap.parse_args(argv)
    which = "lts" if a.lts else ("mechanisms" if a.mechanisms else "standard")
    data = build(which)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    path = {"lts": LTS_ORACLE, "mechanisms": MECH_ORACLE, "standard": ORACLE}[which]
    if a.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    else:
        print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
