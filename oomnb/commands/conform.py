"""``oomnb conform``: replay real episodes through the kernel model."""

NAME = "conform"
HELP = "replay OOM episodes of traces and logs through the model of each kernel version"
DESCRIPTION = """\
For every victim in the inputs and every kernel version, search the
model's state graph for a behaviour whose observations (kill, reaper
wake, reap start/finish/skip, unable to reap, exit, free) come in the
order the evidence shows. Events the capture did not record are not
required; a version that cannot produce the observed order does not
conform, and --explain shows the first observed event it cannot explain,
the model state there and what was enabled. Timing (observed gaps against
the version's timers and CPU steps) is reported apart from the order.

examples:
  oomnb conform data/
  oomnb conform data/ --json
  oomnb conform my-trace.txt dmesg.txt
  oomnb conform data/ --explain kvm2-cgroup1-linux6.18/aio-blocked-256M-0 --kernel v4.9
"""


def add_arguments(p):
    from oomnb.trace.cli_common import add_input_arguments
    add_input_arguments(p)
    p.add_argument("--kernel", action="append", default=None, metavar="V",
                   help="version(s) to replay in (v4.5, v4.8, v4.9, v6.12, v6.18 or FILE.py; "
                        "repeatable; default: all five)")
    p.add_argument("--scenario", default=None, metavar="S",
                   help="model scenario for every episode (default: from the run's metadata, "
                        "else any environment)")
    p.add_argument("--explain", default=None, metavar="EPISODE",
                   help="explain one cell: the episode id (or a unique part of it) with --kernel V")


def _short(v: str) -> str:
    return {"conforms": "yes", "does not conform": "NO", "no model scenario": "n/a"}.get(v, v)


def run(args) -> int:
    import sys

    from oomnb import conform as cf
    from oomnb.errors import OomnbError
    from oomnb.trace.cli_common import load, report_problems
    versions = tuple(args.kernel) if args.kernel else cf.VERSIONS
    if args.explain and len(versions) != 1:
        raise OomnbError("--explain needs exactly one --kernel V")
    tr = load(args)
    if not len(tr.df_events()):
        return 0        # load() said on stderr that the input was read and holds no OOM evidence
    from oomnb.calibrate import calibrate
    eps = cf.episodes_of(tr)
    cal = None
    epdf = tr.df_episodes()
    if len(epdf):
        cal = calibrate(epdf)
    if args.explain:
        match = [e for e in eps if e.id == args.explain] or [e for e in eps if args.explain in e.id]
        if not match:
            raise OomnbError(f"no episode matches {args.explain!r}")
        if len(match) > 1:
            raise OomnbError(f"{args.explain!r} matches {len(match)} episodes: "
                             + ", ".join(e.id for e in match[:5]))
        print(cf.explain_cell(cf.replay_cell(match[0], versions[0], args.scenario, cal)))
        report_problems(args, tr)
        return 0
    res = cf.conform(eps, versions, scenario=args.scenario, cal=cal)
    df = res.df()
    if args.json:
        import json
        cells = df.astype(object).where(df.notna(), None).to_dict("records")
        matrix = {}
        for c in cells:
            matrix.setdefault(c["episode"], {})[c["version"]] = c["ordering"]
        out = {"versions": list(versions), "matrix": matrix, "cells": cells}
        json.dump(out, sys.stdout, indent=1, default=str)
        print()
    elif args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        if not eps:
            print("read, no OOM episode in the inputs")
        for e in eps:
            row = [c for c in res.cells if c.episode is e]
            sc = row[0].scenario.key if row and row[0].scenario else "-"
            cells = "  ".join(f"{c.version}:{_short(c.verdict)}"
                              + ("" if c.timing != "impossible" else "(t!)") for c in row)
            print(f"{e.id}  [{sc}]  {cells}")
            print(f"    {cf.evidence(e)}; timing checks per version: "
                  + ", ".join(f"{c.version}:{len(c.checks)}" for c in row))
        if eps:
            n = len(df)
            ok = int((df.ordering == cf.CONFORMS).sum())
            print(f"\n{len(eps)} episodes x {len(versions)} versions: {ok} of {n} cells conform "
                  "in order; (t!) marks an impossible gap (timing). "
                  "--explain EPISODE --kernel V for one cell.")
    report_problems(args, tr)
    return 0
