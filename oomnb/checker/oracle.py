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

from ..kernel.scenario import STANDARD
from ..kernel.versions import VERSIONS
from .run import ORACLE, check, oracle_entry


def build() -> dict:
    out = {}
    for sc in STANDARD:
        out[sc.key] = {k.name: oracle_entry(check(k, sc)) for k in VERSIONS.values()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args(argv)
    data = build()
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if a.write:
        ORACLE.parent.mkdir(parents=True, exist_ok=True)
        ORACLE.write_text(text)
        print(f"wrote {ORACLE}")
    else:
        print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
