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

from ..kernel.properties import EXTRA, PROPERTIES, scenario_properties
from ..kernel.scenario import STANDARD, parse_scenario
from ..kernel.versions import ALL, LTS, VERSIONS
from .run import LTS_ORACLE, MECH_ORACLE, ORACLE, check, oracle_entry

#: scenarios of mechanisms outside the standard set, recorded for every version:
#: a victim thread's own OOM call (MMF_OOM_REAP_QUEUED, v5.0, separates v4.19 from
#: v5.15), process_mrelease() (v5.15+) racing the oom_reaper and exit_mmap, and
#: memory the reaper cannot unmap (both readings of no_premature_kill), an mm
#: shared with another process that may run exit_mmap itself (4837fe37adff), the
#: robust-futex walk the OOM_REAPER_DELAY is for (e4a38402c36e) and an mm global
#: init shares; each with its mechanism's properties (scenario_properties)
MECH_SCENARIOS = ("second-oom+victim-oom/2t", "process-mrelease/1t",
                  "second-oom+process-mrelease/2t", "second-oom+hugetlb/1t",
                  "second-oom+mlocked/1t", "second-oom+mm-sharer/1t",
                  # --- robust futex: the reaper against exit_robust_list, with and without
                  # the timing assumption, and process_mrelease (not delayed at all)
                  "robust-futex/1t", "robust-futex+walk-within-delay/2t",
                  "process-mrelease+robust-futex+walk-within-delay/1t",
                  # --- init sharing the mm: hidden, never reaped, never freed
                  "second-oom+init-sharer/1t")


def build(which: str = "standard") -> dict:
    """``standard``: STANDARD x VERSIONS; ``lts``: STANDARD x LTS;
    ``mechanisms``: MECH_SCENARIOS x every version, with the extra properties."""
    out = {}
    if which == "mechanisms":
        for key in MECH_SCENARIOS:
            sc = parse_scenario(key)
            props = PROPERTIES + EXTRA + scenario_properties(sc)
            out[sc.key] = {k.name: oracle_entry(check(k, sc, props)) for k in ALL.values()}
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
