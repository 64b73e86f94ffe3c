"""``oomnb bench simulate``: episodes per second of the simulator."""

import time


def add_arguments(p):
    p.add_argument("--kernel", default="v6.18")
    p.add_argument("--scenario", default="aio-blocked")
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from oomnb import sim
    t0 = time.perf_counter()
    c = sim.compile_graph(args.kernel, args.scenario)
    laws = sim.resolve(calibration=sim.calibration(), hz=c.kernel.hz)
    t1 = time.perf_counter()
    eps = sim.run(c, laws, args.runs, args.seed)
    t2 = time.perf_counter()
    print(f"{args.kernel} {args.scenario}: {c.info['states']} states, {c.info['edges']} edges, "
          f"{c.info['events']} events; setup (explore, compile, calibrate) {t1 - t0:.2f} s")
    print(f"{args.runs} episodes in {t2 - t1:.2f} s, {eps.steps} vectorised steps: "
          f"{args.runs / (t2 - t1):,.0f} episodes/s")
    return 0
