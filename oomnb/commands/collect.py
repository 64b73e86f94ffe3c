"""``oomnb collect``: controlled, safe, real OOM kills with the kernel's own tracepoints."""

from __future__ import annotations

NAME = "collect"
HELP = "run controlled memcg OOM kills and record tracepoints, kmsg, memcg usage and stacks"
DESCRIPTION = """\
Run controlled OOM kills inside memory cgroups created below the collector's
own cgroup, record the kernel's own tracepoints (a tracefs instance of our
own, trace_clock mono), the kernel log from a cursor, the cgroup's memory
usage and the victim's kernel stacks, and write a data set in the layout of
data/README.md (one directory per run, machine.json, manifest.sha256).

Scenarios: {scenarios} (see data/README.md, "Collector scenarios";
suspend-dstate runs the kernel's suspend test and so only inside a QEMU
guest, with --kernel-image).
Refuses (one line per missing piece, exit 3) unless root, real tracefs with
events/oom, a memory cgroup controller and the throttle controller (v1 blkio /
v2 io) exist and each limit is below half of MemAvailable. Everything it
creates is named oomnb-... and removed on every exit path (also Ctrl-C,
SIGTERM, a crashed victim); a watchdog bounds every run.

With --kernel-image the same collector runs inside another kernel booted in
QEMU (TCG) by virtme-ng over a read-only view of this machine's filesystem;
only the output directory is writable in the guest, and nothing but QEMU runs
on the host. --dry-run checks QEMU, vng, the image and its config and prints
the plan without booting.

examples:
  oomnb collect --scenario aio-blocked --limit 256M,1G --runs 3 --out data/kvm2-cgroup1-linux6.18
  oomnb collect --kernel-image debian:6.12 --scenario frozen-victim --threads 1 --limit 128M
      (cgroup v2, into data/qemu2-cgroup2-linux6.12)
"""


def _names() -> str:
    from ..collect.scenarios import SCENARIOS
    return ", ".join(SCENARIOS)


def add_arguments(p):
    import textwrap
    p.description = p.description.replace(
        "Scenarios: {scenarios}", textwrap.fill("Scenarios: " + _names(), 78))
    p.add_argument("--scenario", required=True, help="comma list of: " + _names())
    p.add_argument("--limit", default="256M", help="comma list of memcg hard limits (e.g. 256M,1G,4G)")
    p.add_argument("--runs", type=int, default=1, help="runs per scenario and limit (default 1)")
    p.add_argument("--out", help="machine directory, e.g. data/<label> (created; with --kernel-image the default is "
                   "data/qemu<vcpus>-cgroup<N>-linux<major.minor>)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and the preflight verdict, run nothing")
    p.add_argument("--aio-nr", type=int, default=128, help="aio-blocked: number of O_DIRECT AIO reads (default 128)")
    p.add_argument("--lift-after", type=float, default=6.0,
                   help="lift the throttle this many seconds after the kill if the reaper has not finished (default 6)")
    p.add_argument("--watchdog", type=float, default=None, help="seconds per run before the victim is killed (default 60 + 15/GiB)")
    p.add_argument("--dstate-bytes", default="4M", help="dstate-thread, suspend-dstate: bytes per synchronous O_DIRECT "
                   "read of the D-state thread (default 4M: 16 s at 256 KiB/s)")
    p.add_argument("--threads", type=int, default=3,
                   help="frozen-victim: sleeper threads besides the main thread (default 3; 1 gives a two-thread victim)")
    p.add_argument("--device", help="throttled scenarios read this block device (e.g. /dev/vda in a guest) instead of "
                   "a new loop device")
    q = p.add_argument_group("another kernel in QEMU")
    q.add_argument("--kernel-image", metavar="PATH|debian:6.1|debian:6.12",
                   help="boot this kernel in QEMU (virtme-ng, TCG) and collect inside it")
    q.add_argument("--kernel-config", metavar="PATH", help="the image's kernel config (default: config-<release> or "
                   "config beside the image)")
    q.add_argument("--cgroup", type=int, choices=(1, 2), default=2, help="cgroup version in the guest (default 2)")
    q.add_argument("--freezer", type=int, choices=(1, 2), help="frozen-victim with --cgroup 2: 1 freezes with a v1 "
                   "freezer hierarchy beside cgroup2 (the refrigerator) instead of cgroup.freeze (default: as --cgroup)")
    q.add_argument("--virtio-disk", action="store_true", help="give the guest a sparse 64 MiB virtio-blk disk "
                   "(/dev/vda) and read it instead of a loop device (its completions do not pass a freezable workqueue)")
    q.add_argument("--qemu-memory", default="2G", help="guest memory (default 2G)")
    q.add_argument("--qemu-opts", action="append", default=[], help="extra QEMU arguments (repeatable)")


def run(args) -> int:
    import signal
    import sys
    import time
    from pathlib import Path

    from ..errors import OomnbError, Refused
    from ..collect import runner
    from ..collect.dataset import write_machine, write_manifest

    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    for s in scenarios:
        if s not in runner.SCENARIOS:
            raise OomnbError(f"unknown scenario {s!r} (known: {', '.join(runner.SCENARIOS)})")
    limits = [runner.parse_size(x) for x in args.limit.split(",") if x.strip()]
    if args.runs < 1:
        raise OomnbError("--runs must be >= 1")
    if args.threads < 1:
        raise OomnbError("--threads must be >= 1")
    if args.kernel_image:
        from ..collect.qemu_cli import run_in_qemu
        return run_in_qemu(args, scenarios, limits)
    if args.virtio_disk:
        raise OomnbError("--virtio-disk needs --kernel-image")
    if "suspend-dstate" in scenarios:
        from ..collect.suspend import refusal
        why = refusal()
        if why:
            raise Refused(why)
    if not args.out:
        raise OomnbError("--out is required (without --kernel-image)")
    out = Path(args.out)
    opts = runner.Options(aio_nr=args.aio_nr, lift_after=args.lift_after, watchdog=args.watchdog, threads=args.threads,
                          device=args.device, dstate_bytes=runner.parse_size(args.dstate_bytes))
    env = runner.preflight(scenarios, limits)
    from ..collect import stale
    left = stale.find(env.layout, env.tracefs) if env.euid == 0 else {}
    left_items = [x for v in left.values() for x in v]
    if args.dry_run:
        for line in runner.plan_lines(scenarios, limits, args.runs, str(out), env, opts):
            print(line)
        for x in left_items:
            print(f"  stale (of a dead collector, would be removed first): {x}")
        print(f"preflight: would refuse ({len(env.problems)} problem{'s' if len(env.problems) != 1 else ''})"
              if env.problems else "preflight: ok, every check passed (a run would start)")
        return 3 if env.problems else 0
    if env.problems:
        for p in env.problems:
            print(f"oomnb collect: refused: {p}", file=sys.stderr)
        raise Refused(f"{len(env.problems)} precondition(s) missing (see above)")
    for n in env.notes:
        print(f"oomnb collect: {n}", file=sys.stderr)
    if left_items:
        print(f"oomnb collect: removing {len(left_items)} object(s) left by a dead collector", file=sys.stderr)
        if not stale.remove(left, lambda m: print(f"oomnb collect: {m}", file=sys.stderr)):
            raise OomnbError("objects left by a dead collector could not all be removed (see above)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    import faulthandler
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1 <pid>: where is it?
    results = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        ctrls = sorted(env.layout.mounts) if env.layout.version == 1 else ["memory", "io"]
        write_machine(out, env.layout.version, ctrls)
        total = len(scenarios) * len(limits) * args.runs
        k = 0
        for s in scenarios:
            for lim in limits:
                for _ in range(args.runs):
                    k += 1
                    idx = runner.next_index(out, s, lim)
                    label = f"{s}-{runner.size_label(lim)}-{idx}"
                    print(f"[{k}/{total}] {label}: running", file=sys.stderr)
                    t0 = time.monotonic()
                    try:
                        r = runner.run_once(env, s, lim, idx, out, opts)
                    finally:
                        write_manifest(out)
                    print(f"[{k}/{total}] {label}: victim pid {r['pid']} killed {r['kill_after_alloc_s']:.3f} s after alloc, "
                          f"exited {r['exit_after_kill_s']:.3f} s after the kill"
                          + (f", throttle lifted ({r['lift_reason']})" if r.get("lift_reason") else "")
                          + (", exit_aio seen in stacks" if r.get("stacks_exit_aio") else "")
                          + f" [{time.monotonic() - t0:.1f} s]", file=sys.stderr)
                    for c in r["caveats"]:
                        print(f"    caveat: {c}", file=sys.stderr)
                    results.append(r)
    finally:
        signal.signal(signal.SIGTERM, old)
    write_manifest(out)
    from ..collect.summary import print_summary
    print_summary(out, [r["dir"] for r in results])
    return 0
