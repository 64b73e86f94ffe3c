"""oomnb bench: speed and memory targets (never timed assertions in tests)."""

import importlib

NAME = "bench"
HELP = "benchmarks: `check` (states/s of the interleaving checker), `parse` (trace/log reader MB/s vs grep), `conform` (replay), `simulate` (episodes/s)"

# target -> module with add_arguments(parser) and run(args)
TARGETS = {
    "check": ("oomnb.checker.bench", "explore the standard scenarios, all versions; report states/s"),
    "parse": ("oomnb.trace.bench", "generate a large realistic log/trace; report MB/s, ratio to grep, peak memory"),
    "conform": ("oomnb.conform.bench", "replay the data sets through every version; report seconds"),
    "simulate": ("oomnb.sim.bench", "simulate 100,000 episodes of v6.18 aio-blocked; report episodes/s"),
}


def add_arguments(p):
    sub = p.add_subparsers(dest="target", metavar="TARGET")
    for name, (mod, help_) in TARGETS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        try:
            m = importlib.import_module(mod)
        except ImportError:
            sp.set_defaults(_bench=None, _bench_mod=mod)
            continue
        m.add_arguments(sp)
        sp.set_defaults(_bench=m.run, _bench_mod=mod)


def run(args) -> int:
    from ..errors import OomnbError

    if not getattr(args, "target", None):
        raise OomnbError("name a target: " + ", ".join(TARGETS))
    if args._bench is None:
        raise OomnbError(f"benchmark {args.target!r} is not available ({args._bench_mod} is missing)")
    return args._bench(args)
