"""``oomnb episodes``: one row per OOM victim, with reaper timing and outcome."""

NAME = "episodes"
HELP = "per-victim OOM episodes (kill, reaper wake, reap, exit, free) from traces and logs"
DESCRIPTION = """\
Build one row per victim (pid + kill) from ftrace text and kernel logs:
kill, reaper wake, reap start/finish, exit start (or exit_mm done on older
kernels), free, RSS before and after, the invoked-oom-killer header fields,
latencies within one clock domain, the outcome (reaped, unable, skipped,
self-exit, joined, unknown) and the file:line each value came from.
The printk - trace offset of each file pair, estimated from anchor pairs of
the same pid, is printed below the table (kill anchors preferred).

examples:
  oomnb episodes data/epyc2-cgroup1-linux6.18/
  oomnb episodes --trace-clock local trace.txt dmesg.txt
  oomnb episodes kern.log.gz --json
  oomnb episodes data/ --perfetto oom.json   # open in ui.perfetto.dev
"""

TEXT_COLS = ["machine", "run", "pid", "comm", "outcome", "evidence", "kill", "kill_to_wake",
             "kill_to_reap_start", "reap_duration", "kill_to_free", "anon_rss_kb", "anon_rss_after_kb"]


def add_arguments(p):
    from oomnb.trace.cli_common import add_input_arguments
    add_input_arguments(p)
    p.add_argument("--perfetto", metavar="OUT.json", default=None,
                   help="also write a Chrome trace-event JSON file (ui.perfetto.dev opens it)")


def _ms(x):
    return "-" if x is None or x != x else f"{x * 1e3:.3f}"


def run(args) -> int:
    import sys

    import numpy as np

    from oomnb.errors import OomnbError
    from oomnb.trace.cli_common import emit, load, report_problems
    if args.perfetto:   # checked before the (long) read
        import os
        d = os.path.dirname(os.path.abspath(args.perfetto))
        if os.path.isdir(args.perfetto):
            raise OomnbError("is a directory (--perfetto wants a file name, e.g. oom.json)", path=args.perfetto)
        if not os.path.isdir(d):
            raise OomnbError("no such directory for --perfetto", path=d)
        if not os.access(d, os.W_OK):
            raise OomnbError("directory not writable for --perfetto", path=d)
    tr = load(args)
    ep = tr.df_episodes()

    def fmt(df):
        t = df[TEXT_COLS].copy().astype(object)
        for c in ("kill_to_wake", "kill_to_reap_start", "reap_duration", "kill_to_free"):
            t[c] = [_ms(x) if u != "counts" else str(x) for x, u in zip(df[c], df.time_unit)]
        t["kill"] = [f"{x:.6f}" if x == x and x is not None else "-" for x in df.kill]
        t["kill"] = [f"{k} {c}" if c else k for k, c in zip(t["kill"], df.clock.fillna(""))]
        for c in ("anon_rss_kb", "anon_rss_after_kb"):
            t[c] = [str(int(x)) if x is not None and x == x else "-" for x in df[c]]
        t["machine"] = df.machine.fillna("-")
        t["run"] = df.run.fillna("-")
        return t.rename(columns={"kill_to_wake": "wake_ms", "kill_to_reap_start": "reap_start_ms",
                                 "reap_duration": "reap_ms", "kill_to_free": "free_ms",
                                 "anon_rss_after_kb": "anon_after_kb"})

    emit(args, ep, TEXT_COLS, fmt)
    off = tr.df_offsets()
    out = sys.stdout if not (args.json or args.csv) else sys.stderr
    if not ep.empty and not (args.json or args.csv):
        counts = ep.outcome.value_counts()
        print(f"\n{len(ep)} episodes, {ep.pid.nunique()} victim pids: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=out)
    if not off.empty:
        for (m, lc, tc, a), g in off.groupby([off.machine.fillna("-"), "log_clock", "trace_clock", "anchor"]):
            vals = g.offset_s.to_numpy()
            print(f"offset {lc} - {tc} [{m}] ({a} anchors, {int(g.n.sum())} pairs in {len(g)} file pairs): "
                  f"{np.median(vals) * 1e3:+.3f} ms, spread {(vals.max() - vals.min()) * 1e6:.0f} us "
                  f"(min {vals.min() * 1e3:+.3f}, max {vals.max() * 1e3:+.3f})", file=out)
    if args.perfetto:
        from oomnb.trace.perfetto import write_perfetto
        try:
            n = write_perfetto(ep, args.perfetto)
        except OSError as e:
            raise OomnbError(f"cannot write: {e.strerror or e}", path=args.perfetto) from None
        print(f"wrote {args.perfetto} ({n} slices)", file=sys.stderr)
    report_problems(args, tr)
    return 0
