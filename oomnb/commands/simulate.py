"""``oomnb simulate``: timelines of victim and oom_reaper, Monte Carlo."""

NAME = "simulate"
HELP = "simulate victim and oom_reaper timelines (the model driven by calibrated time laws)"
DESCRIPTION = """\
Run the kernel model as a timed race: every enabled step holds a clock
drawn from its delay law (timer wheel + softirq lag, reap and exit_mmap
throughput, IO completion, mmap-lock hold, scheduling latency), fitted
from the traces in data/; the earliest fires.  Prints Monte Carlo
summaries: kill -> reaper wake / reap start / may select again /
unmapped / free, premature second kills, reaper attempts, unable-to-reap
rate.  With the scenario's recordings in data/ (v6.18 runs), the
measured medians are shown next to the simulated ones.

laws (--law NAME=SPEC, repeatable): const:X, uniform:A,B, exp:MEAN,
lognormal:MED,SIG, never, data (resample the calibration), bernoulli:P,SPEC,
wheel:J,LAG.  Names: timer_slack, reap_attempt, cpu, signal_latency,
reap_throughput, exit_throughput, rss_anon, aio_io, dstate_io, lock_hold,
suspend_start, suspended, victim_alloc.

examples:
  oomnb simulate --kernel v6.18 --scenario aio-blocked --runs 1000 --json
  oomnb simulate --kernel v4.9 --scenario aio-blocked+second-oom --law aio_io=const:5
  oomnb simulate --kernel my_patch.py --scenario mmap-lock --law lock_hold=const:0.5
  oomnb simulate --kernel v6.18 --scenario aio-blocked --runs 10 --perfetto sim.json
  oomnb simulate --sweep --kernel v4.9,v6.18 --scenario aio-blocked --rss 256M,1G,4G
"""

MEASURED = (("kill_to_reaper_wake", "kill_to_wake"), ("kill_to_reap_start", "kill_to_reap_start"),
            ("reap_duration", "reap_duration"), ("kill_to_exit_start", "kill_to_exit_start"),
            ("kill_to_free", "kill_to_free"))


def add_arguments(p):
    p.add_argument("--kernel", default="v6.18", help="version (v4.5 v4.8 v4.9 v6.12 v6.18) or FILE.py; "
                   "with --sweep a comma-separated list")
    p.add_argument("--scenario", default="aio-blocked", help="model scenario (aio-blocked, "
                   "mmap-lock, dstate-thread, ...+second-oom, threads=N); comma list with --sweep")
    p.add_argument("--runs", type=int, default=1000, help="episodes (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--law", action="append", default=[], metavar="NAME=SPEC",
                   help="override a law (repeatable)")
    p.add_argument("--rss", default=None, help="anonymous RSS of the victim (1G, 256M); "
                   "a comma list with --sweep")
    p.add_argument("--machine", default="all", help="calibrate on one machine of data/ (default all)")
    p.add_argument("--horizon", type=float, default=60.0, help="seconds simulated at most (default 60)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--perfetto", metavar="OUT.json", default=None,
                   help="write the first 10 episodes as Chrome trace-event JSON (ui.perfetto.dev)")
    p.add_argument("--sweep", action="store_true", help="sweep kernels x scenarios x RSS x "
                   "--p-trylock; one row per point")
    p.add_argument("--p-trylock", default=None, help="with --sweep: comma list of probabilities "
                   "that the mmap lock stays held (mmap-lock scenarios)")
    p.add_argument("--processes", type=int, default=None, help="with --sweep: local processes")
    p.add_argument("--dask", default=None, metavar="tcp://HOST:PORT",
                   help="with --sweep: run the points on this Dask scheduler")


def _measured(scenario: str) -> dict:
    from oomnb import trace
    from oomnb.model import SCENARIOS
    names = [c for c, m in SCENARIOS.items() if m.model == scenario or c == scenario]
    try:
        from oomnb.calibrate import measured_sets
        ep = trace.df_episodes(measured_sets())
    except Exception:   # noqa: BLE001 - no data/ in this installation: nothing to compare
        return {}
    ep = ep[ep.scenario.isin(names)]
    out = {}
    for key, col in MEASURED:
        x = ep[col].dropna().astype(float)
        if len(x):
            out[key] = {"median": float(x.median()), "n": int(len(x))}
    return out


def _sweep(args):
    import sys

    from oomnb import sim
    from oomnb.sim.laws import parse_overrides
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    pts = sim.grid(split(args.kernel), split(args.scenario),
                   rss=split(args.rss) if args.rss else (None,),
                   p_trylock=[float(x) for x in split(args.p_trylock)] if args.p_trylock else (None,),
                   laws=parse_overrides(args.law))
    df = sim.sweep(pts, runs=args.runs, seed=args.seed, calibration=sim.calibration(),
                   horizon=args.horizon, processes=args.processes, dask=args.dask,
                   progress=sys.stderr.isatty())
    if args.json:
        print(df.to_json(orient="records", indent=1))
    else:
        cols = ["kernel", "scenario", "rss", "p_trylock", "kill_to_reap_start_median",
                "kill_to_may_select_median", "kill_to_unmapped_median", "kill_to_free_median",
                "premature_second_kill_rate", "unable_to_reap_rate"]
        print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def run(args) -> int:
    import json

    from oomnb import sim
    from oomnb.errors import OomnbError
    from oomnb.sim.laws import parse_overrides
    if args.runs < 1:
        raise OomnbError("--runs must be at least 1")
    if args.sweep:
        return _sweep(args)
    if args.dask or args.p_trylock:
        raise OomnbError("--dask and --p-trylock go with --sweep")
    laws = parse_overrides(args.law)
    if args.rss:
        laws.setdefault("rss_anon", f"const:{args.rss}")
    eps = sim.simulate(args.kernel, args.scenario, args.runs, args.seed, laws=laws,
                       machine=args.machine, horizon=args.horizon, record=bool(args.perfetto))
    s = sim.summary(eps)
    if eps.compiled.kernel.release.startswith("6.18"):
        s["measured_v6_18"] = _measured(eps.compiled.scenario.name)
    if args.perfetto:
        n = sim.write_perfetto([sim.timeline(eps, i) for i in range(min(10, args.runs))], args.perfetto)
        import sys
        print(f"wrote {args.perfetto} ({n} slices)", file=sys.stderr)
    if args.json:
        print(json.dumps(s, indent=1, sort_keys=False))
        return 0
    print(f"{s['kernel']} {s['scenario']}: {s['runs']} runs, seed {s['seed']}")
    meas = s.get("measured_v6_18", {})
    print(f"{'latency (s)':<22} {'p05':>9} {'median':>9} {'p95':>9} {'reached':>8} {'measured':>9}")
    for name, q in s["latency_s"].items():
        if not q["reached"]:
            print(f"{name:<22} {'-':>9} {'-':>9} {'-':>9} {0:>8.0%}")
            continue
        m = meas.get(name, {}).get("median")
        mtxt = "-" if m is None else f"{m:.4f}"
        print(f"{name:<22} {q['p05']:>9.4f} {q['median']:>9.4f} {q['p95']:>9.4f} "
              f"{q['reached']:>8.1%} {mtxt:>9}")
    print(f"reap attempts: mean {s['reap_attempts']['mean']:.2f}, max {s['reap_attempts']['max']}; "
          f"premature second kills {s['premature_second_kill_rate']:.1%}; "
          f"unable to reap {s['unable_to_reap_rate']:.1%}")
    return 0
