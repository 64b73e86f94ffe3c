"""``oomnb check``: explore the kernel model over all interleavings."""

from __future__ import annotations

NAME = "check"
HELP = "model-check the OOM victim/oom_reaper protocol over all interleavings"
DESCRIPTION = """\
Explore every interleaving of the OOM killer, the victim's exit path and
the oom_reaper in a kernel version, check the named properties, and print
herd7-style verdict lines, TLC-style statistics and, for each violation,
the shortest counterexample (numbered steps and an ASCII swimlane).

Plain `oomnb check` runs the standard scenarios for all versions and says
for each cell whether it matches the stored oracle (oomnb/checker/expected/);
verdicts always come from exploration.

examples:
  oomnb check
  oomnb check --kernel v4.8 --scenario aio-blocked+suspend+second-oom \\
      --property disable_contract --property suspend_exclusion
  oomnb check --kernel my_patch.py --scenario aio-blocked+threads=2
  oomnb check --diff v4.9 v6.18
  oomnb check --diff v6.12 v6.18 --scenario dstate-thread+suspend
  oomnb check --fairness weak-oom_lock --scenario aio-blocked+suspend+second-oom
"""


def add_arguments(p):
    from ..checker.explore import MAX_STATES
    from ..kernel.scenario import TOKENS
    from ..kernel.versions import known_names
    p.add_argument("--kernel", action="append", metavar="VERSION|FILE.py",
                   help=", ".join(known_names()) + " (case-insensitive, the v optional; 'lts' = v4.19, v5.15, v6.1, 'all' = "
                        "the standard and LTS versions) or a .py file "
                        "defining KERNEL (repeatable)")
    p.add_argument("--scenario", action="append", metavar="S",
                   help="tokens joined with '+', e.g. aio-blocked+suspend+second-oom+threads=2 "
                        f"(tokens: {', '.join(TOKENS)}, threads=N; repeatable; default: the "
                        "standard scenarios)")
    p.add_argument("--threads", type=int, help="override the thread count (1-3)")
    p.add_argument("--property", action="append", metavar="P",
                   help="only these properties (disable_contract / suspend_exclusion = "
                        "all their readings and scopes, suspend = both)")
    p.add_argument("--fairness", choices=["standard", "weak-oom_lock"], default="standard",
                   help="fairness of the liveness checks: standard (thread, reaper and timer steps "
                        "weakly fair; acquiring oom_lock and the mmap lock strongly fair) or "
                        "weak-oom_lock (acquiring oom_lock only weakly fair: a retrying allocator may "
                        "starve the reaper); default standard")
    p.add_argument("--second-freeze-pass", action="store_true",
                   help="add the second freezing pass of 74070542099c to every version "
                        "(v4.8 has it; see v4.8-no74070542099c)")
    p.add_argument("--max-states", type=int, default=None, metavar="N",
                   help="stop an exploration past N states (default "
                        f"{MAX_STATES:,}) instead of filling the memory")
    p.add_argument("--diff", nargs=2, metavar=("A", "B"), help="compare two versions' verdicts")
    p.add_argument("--json", action="store_true", help="the same results as JSON")
    p.add_argument("--trace", action="store_true",
                   help="print counterexamples also in the full run")
    p.add_argument("--no-swimlane", action="store_true",
                   help="print counterexamples as numbered steps only, without the ASCII swimlane")


def run(args) -> int:
    import json
    import sys
    import textwrap

    from ..checker.render import (FAIRNESS_TEXT, race_notes, stats, steps_text, swimlane,
                                  verdict_line, verdict_table)
    from ..checker.explore import MAX_STATES
    from ..checker.run import check, compare_oracle, load_oracle
    from ..kernel.properties import select
    from ..kernel.scenario import STANDARD, parse_scenario
    from ..kernel.versions import VERSIONS, load_kernel, load_kernels

    from ..errors import OomnbError
    if args.max_states is not None and args.max_states < 1:
        raise OomnbError(f"--max-states must be at least 1, got {args.max_states}")
    if args.diff:
        if args.kernel:
            raise OomnbError("--diff A B names the two versions; --kernel cannot be combined with it")
        kernels = [load_kernel(x) for x in args.diff]
        if kernels[0] is kernels[1] or kernels[0].name == kernels[1].name:
            raise OomnbError(f"--diff needs two different versions (got {kernels[0].name} twice)")
    elif args.kernel:
        kernels = [k for x in args.kernel for k in load_kernels(x)]
    else:
        kernels = list(VERSIONS.values())
    if args.second_freeze_pass:
        kernels = [k if k.second_freeze_pass else
                   k.derive(k.name + "+2nd-pass", second_freeze_pass=True) for k in kernels]
    if args.scenario:
        scenarios = [parse_scenario(s, args.threads) for s in args.scenario]
    else:
        scenarios = list(STANDARD)
        if args.threads:
            scenarios = [parse_scenario(s.name, args.threads) for s in STANDARD
                         if not (s.dstate and args.threads < 2)]
    props = select(args.property)
    if not args.property:       # and the properties of the scenarios' mechanisms
        from ..kernel.properties import scenario_properties
        props += tuple(dict.fromkeys(p for sc in scenarios for p in scenario_properties(sc)))
    narrowed = bool(args.kernel or args.scenario or args.property or args.diff)
    oracle = load_oracle()
    show_ce = narrowed or args.trace
    results = []
    for sc in scenarios:
        for k in kernels:
            results.append(check(k, sc, props, mode=args.fairness, progress=True,
                                 max_states=args.max_states or MAX_STATES))

    if args.json:
        out = {"fairness": args.fairness, "fairness_text": FAIRNESS_TEXT[args.fairness],
               "results": []}
        for r in results:
            d = r.as_dict()
            d["oracle"] = compare_oracle(r, oracle)
            for name, v in r.verdicts.items():
                if v.steps:
                    d["verdicts"][name]["notes"] = race_notes(v.steps)
            out["results"].append(d)
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0

    if args.diff:
        a, b = (k.name for k in kernels)
        print(f"Diff {a} -> {b}")
        flags = [f"{f}: {x}->{y}" for f, (x, y) in kernels[0].diff(kernels[1]).items()]
        print(textwrap.fill("flags: " + ", ".join(flags), 72, subsequent_indent="  ", break_on_hyphens=False))
        changed = []
        for sc in scenarios:
            ra = next(r for r in results if r.scenario == sc and r.kernel.name == a)
            rb = next(r for r in results if r.scenario == sc and r.kernel.name == b)
            for p in ra.verdicts:      # the scenario's properties (memcg ones included)
                if ra.verdicts[p].verdict != rb.verdicts[p].verdict:
                    changed.append((sc, p, ra.verdicts[p].short, rb.verdicts[p].short))
        print(f"verdicts that change ({len(changed)}):" if changed else "no verdict changes")
        last = None
        for sc, p, x, y in changed:
            if sc != last:
                print(f"  {sc.key}:")
                last = sc
            print(f"    {p} {x} -> {y}")
        print()
    print(textwrap.fill(f"Fairness ({args.fairness}): {FAIRNESS_TEXT[args.fairness]}.", 72))
    mismatches = 0
    vnames = [k.name for k in kernels]
    for sc in scenarios:
        rs = {r.kernel.name: r for r in results if r.scenario == sc}
        pnames = list(next(iter(rs.values())).verdicts)
        cmp = {v: compare_oracle(r, oracle) for v, r in rs.items()}
        print()
        print(f"== {sc.label} ==")
        print(verdict_table(rs, vnames, pnames, cmp))
        print()
        vw = max(8, max(len(v) for v in rs) + 1)
        print(f"{'version':{vw}s}{'states':>8s}{'transitions':>13s}{'depth':>7s}{'seconds':>9s}"
              f"{'states/s':>10s}  oracle")
        for v, r in rs.items():
            c = cmp[v]
            bad = [p for p, x in c.items() if x not in ("ok", "no-oracle")]
            mismatches += len(bad)
            rate = r.states / r.seconds if r.seconds else 0
            orc = ("none" if c.get("_counts") == "no-oracle" else
                   ("match" if not bad else "MISMATCH " + ", ".join(f"{p}={c[p]}" for p in bad)))
            print(f"{v:{vw}s}{r.states:8d}{r.transitions:13d}{r.depth:7d}{r.seconds:9.2f}"
                  f"{rate:10.0f}  {orc}")
    print()
    print("Legend: = matches the stored oracle, ! differs, ? no oracle;")
    print("vacuous = holds vacuously; n/a = out of scope (reap_progress with a lock")
    print("held forever). Where the model departs from the expected tables, with")
    print("kernel citations: oomnb/checker/DIFFERENCES.md")
    diff_cells = {(sc, p) for sc, p, *_ in changed} if args.diff else set()
    if show_ce:
        for r in results:
            if args.diff and not any(r.scenario == sc for sc, _ in diff_cells):
                continue
            print()
            print(f"-- {r.kernel.name} {r.scenario.label} --")
            print(stats(r))
            c = compare_oracle(r, oracle)
            for p, v in r.verdicts.items():
                print(verdict_line(r, v, c.get(p)))
            shown = {}   # steps text -> property: each counterexample once
            for p, v in r.verdicts.items():
                if v.verdict != "violated":
                    continue
                if args.diff and (r.scenario, p) not in diff_cells:
                    continue   # --diff: only the counterexamples of the verdicts that change
                text = steps_text(v.steps)
                print()
                if text in shown:
                    print(f"Counterexample: {r.kernel.name} {r.scenario.key} {p}:")
                    print(f"  the same steps as {shown[text]}")
                    continue
                shown[text] = p
                print(f"Counterexample: {r.kernel.name} {r.scenario.key} {p} ({v.note or 'safety'})")
                print(text)
                for note in race_notes(v.steps):
                    print(textwrap.fill(note, 72, subsequent_indent="  "))
                if not args.no_swimlane:
                    print()
                    print(swimlane(v.steps))
    total = sum(r.seconds for r in results)
    states = sum(r.states for r in results)
    print()
    print(f"Total: {len(results)} run{'s' if len(results) != 1 else ''}, {states} states, {total:.2f}s "
          f"({states / total if total else 0:.0f} states/s).")
    if mismatches and not narrowed:
        print(f"{mismatches} cell(s) differ from the stored oracle.")
        return 1
    return 0
