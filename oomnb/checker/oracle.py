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

#: scenarios of mechanisms outside the standard set, recorded for every version, each with
#: what it asks of the model (notebook 01 and the post print these lines); each is checked
#: with its mechanism's own properties too (properties.scenario_properties)
MECHANISMS = {
    "second-oom+victim-oom/2t":
        "a victim thread calls out_of_memory() itself before do_exit (task_will_free_mem(current)); "
        "MMF_OOM_REAP_QUEUED (v5.0) keeps it from being queued twice",
    "process-mrelease/1t":
        "a userspace killer sends SIGKILL and calls process_mrelease() (v5.15+), a second reaper "
        "racing exit_mmap; its victim is no OOM victim, so the OOM killer does not wait for it",
    "second-oom+process-mrelease/2t":
        "the same with two victim threads and a second OOM call",
    "second-oom+hugetlb/1t":
        "the mm also maps hugetlb memory, which no reaper unmaps (both readings of "
        "no_premature_kill)",
    "second-oom+mlocked/1t":
        "the mm also maps VM_LOCKED memory, which the reaper skipped before v5.18",
    "second-oom+mm-sharer/1t":
        "another process shares the mm (CLONE_VM without CLONE_THREAD) and may run exit_mmap "
        "itself, the case of 4837fe37adff; it is not a candidate here, so no_premature_kill "
        "over-reports",
    "process-mrelease+mm-sharer/1t":
        "a userspace killer kills V alone while another process still shares its mm: "
        "task_will_free_mem's loop over the sharers keeps process_mrelease() from reaping it",
    "robust-futex/1t":
        "the victim thread has a robust futex list that exit_robust_list() walks in its memory "
        "at the start of exit_mm; OOM_REAPER_DELAY (e4a38402c36e, v5.18) is meant to let it "
        "finish before the reaper unmaps that memory",
    "robust-futex+walk-within-delay/2t":
        "the same with two threads, under the timing assumption that a thread not stuck ends "
        "its walk within OOM_REAPER_DELAY",
    "process-mrelease+robust-futex+walk-within-delay/1t":
        "the same assumption, with process_mrelease() reaping at once (it has no delay)",
    "second-oom+init-sharer/1t":
        "global init shares the mm: the OOM killer does not kill it, sets MMF_OOM_SKIP and "
        "does not queue the reaper, so the mm stays mapped for as long as init lives",
    "second-oom+odirect/1t":
        "direct IO in flight pins part of the anonymous memory: the reaper unmaps it and "
        "reports success, but the pages are freed only when the IO completes",
    "second-oom+mmu-notifier/1t":
        "an MMU notifier may refuse non-blocking invalidation (93065ac753e4, v4.19): a partial "
        "reap fails the attempt, and after MAX_OOM_REAP_RETRIES the reaper gives up",
}
MECH_SCENARIOS = tuple(MECHANISMS)


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
