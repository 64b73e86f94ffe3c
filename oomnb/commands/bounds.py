"""``oomnb bounds``: worst-case time bounds derived from the model."""

from __future__ import annotations

NAME = "bounds"
HELP = "worst-case time bounds per version, derived from the model (sympy formulas, evaluated)"
DESCRIPTION = """\
Derive, from the explored state graph of each version and scenario, the
worst-case time of:

  select_again  kill until the OOM killer may select again
  unmapped      kill until the victim's anonymous memory is unmapped
  pm_return     oom_killer_disable() / freeze_processes() can return
  reaper_done   kill until the oom_reaper reaps or gives up

Each bound is a formula over the model's delay symbols (HZ,
MAX_OOM_REAP_RETRIES, OOM_REAPER_DELAY, t_attempt, t_slack, rss_anon,
B_reap, T_io, ...), checked by a ranking function on every reachable
state, and its value with parameters calibrated from the shipped data
(slow end, per --machine) at the version's HZ.  Where a fair path never
gets there the bound is unbounded and the reason is the cycle the
checker found (e.g. it waits for IO: T_io).  The reported bound is the
worst over the scenarios (default: the standard ones).

examples:
  oomnb bounds
  oomnb bounds --kernel v6.18 --scenario mmap-lock-forever+second-oom
  oomnb bounds --param HZ=1000 --param t_slack=0.004 --json
  oomnb bounds --kernel my_patch.py --bound select_again
"""


def add_arguments(p):
    p.add_argument("--kernel", action="append", metavar="VERSION|FILE.py",
                   help="v4.5, v4.8, v4.9, v6.18, v6.12 or a .py file defining KERNEL "
                        "(repeatable; default: the four versions)")
    p.add_argument("--scenario", action="append", metavar="S",
                   help="model scenario (repeatable; default: the standard scenarios)")
    p.add_argument("--bound", action="append",
                   choices=["select_again", "unmapped", "pm_return", "reaper_done"],
                   help="only these bounds (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a symbol (HZ=1000, T_io=5, rss_anon=1e9, ...; inf allowed)")
    p.add_argument("--machine", default=None,
                   help="parameters from this machine's episodes in data/ (or 'all'; "
                        "default: the machine with the most episodes)")
    p.add_argument("--latex", action="store_true", help="print the LaTeX of each formula too")
    p.add_argument("--json", action="store_true", help="the records as JSON")


def _params(items):
    from ..errors import OomnbError
    from ..kernel import timing
    out = {}
    for it in items:
        name, sep, val = it.partition("=")
        name = name.strip()
        if not sep or name not in timing.SYMBOLS:
            raise OomnbError(f"--param {it!r}: use NAME=VALUE with NAME one of "
                             f"{', '.join(timing.SYMBOLS)}")
        try:
            out[name] = float(val)
        except ValueError:
            raise OomnbError(f"--param {it!r}: {val!r} is not a number") from None
    return out


def run(args) -> int:
    import json

    from ..bounds import derive as D
    from ..bounds import table
    from ..errors import OomnbError

    params = _params(args.param)
    machines = D._calibration().machines() + ["all"]
    args.machine = args.machine or D.default_machine()
    if args.machine not in machines:
        raise OomnbError(f"--machine {args.machine!r}: known: {', '.join(machines)}")
    try:
        recs = table.bounds(args.kernel, args.scenario, args.bound, params, args.machine)
    except D.RankError as e:
        raise OomnbError(f"ranking function: {e}") from None
    if args.json:
        print(json.dumps({"machine": args.machine, "overrides": params,
                          "versions": _by_version(recs)}, indent=1))
        return 0
    print(table.text(recs))
    if args.latex:
        print()
        for r in recs:
            if r["latex"]:
                print(f"{r['kernel']} {r['bound']}: {r['latex']}")
    import textwrap
    print()
    print(textwrap.fill(f"parameters: calibrated from data/ ({args.machine}, slow end), HZ and "
                        "constants of each version; T_io, T_dstate, T_lock unbounded where the "
                        "scenario blocks them, 0 where nothing does; t_cpu = 0.", 72))
    return 0


def _by_version(recs) -> dict:
    out = {}
    for r in recs:
        out.setdefault(r["kernel"], {})[r["bound"]] = r
    return out
