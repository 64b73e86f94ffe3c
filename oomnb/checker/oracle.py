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

from ..kernel.scenario import STANDARD, parse_scenario
from ..kernel.versions import LTS, VERSIONS
from .run import LTS_ORACLE, ORACLE, check, oracle_entry

#: scenarios recorded for the LTS kernels besides the standard ones: the
#: victim's own OOM call, where MMF_OOM_REAP_QUEUED (v5.0) separates v4.19 from v5.15,
#: and process_mrelease() (v5.15+) racing the oom_reaper and exit_mmap
LTS_SCENARIOS = ("second-oom+victim-oom/2t", "process-mrelease/1t", "second-oom+process-mrelease/2t")


def build(lts: bool = False) -> dict:
    out = {}
    kernels = LTS if lts else VERSIONS
    scenarios = list(STANDARD) + ([parse_scenario(s) for s in LTS_SCENARIOS] if lts else [])
    for sc in scenarios:
        out[sc.key] = {k.name: oracle_entry(check(k, sc)) for k in kernels.values()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--lts", action="store_true", help="the LTS kernels' oracle (lts.json)")
    a = ap.parse_args(argv)
    data = build(lts=a.lts)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    path = LTS_ORACLE if a.lts else ORACLE
    if a.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    else:
        print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
