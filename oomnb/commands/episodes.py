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


LATENCIES = ("kill_to_wake", "kill_to_reap_start", "reap_duration", "kill_to_free")
HEADER = ["machine", "run", "pid", "comm", "outcome", "evidence", "kill", "wake_ms", "reap_start_ms", "reap_ms",
          "free_ms", "anon_rss_kb", "anon_after_kb"]


def _text_rows(ep: list[dict]) -> list[list[str]]:
    from oomnb.trace.cli_common import cell, missing_text

    def num(x):
        return x is not None and x == x

    # a column's missing value as the episodes table holds it: NaN among numbers, else None
    na = {c: (float("nan") if any(num(r[c]) for r in ep) else None) for c in LATENCIES}
    comm_na = missing_text(r["comm"] for r in ep)
    out = []
    for r in ep:
        kill = f"{r['kill']:.6f}" if num(r["kill"]) else "-"
        clock = r["clock"] if isinstance(r["clock"], str) else ""
        lat = [_ms(r[c]) if r["time_unit"] != "counts" else str(r[c] if num(r[c]) else na[c]) for c in LATENCIES]
        out.append([cell(r["machine"]), cell(r["run"]), str(r["pid"]), cell(r["comm"], comm_na), cell(r["outcome"]),
                    cell(r["evidence"]), f"{kill} {clock}" if clock else kill, *lat,
                    str(int(r["anon_rss_kb"])) if num(r["anon_rss_kb"]) else "-",
                    str(int(r["anon_rss_after_kb"])) if num(r["anon_rss_after_kb"]) else "-"])
    return out


def run(args) -> int:
    import sys

    from oomnb.errors import OomnbError
    from oomnb.trace.cli_common import emit, emit_text, load, report_problems
    from oomnb.trace.episodes import _median
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
    ep = tr.episodes()
    if args.json or args.csv:
        emit(args, tr.df_episodes(), TEXT_COLS)
    else:   # the text table, without building a DataFrame
        emit_text(_text_rows(ep), HEADER)
    off = tr.offsets()
    out = sys.stdout if not (args.json or args.csv) else sys.stderr
    if ep and not (args.json or args.csv):
        counts = {}
        for r in ep:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        print(f"\n{len(ep)} episodes, {len({r['pid'] for r in ep})} victim pids: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=out)
    groups = {}
    for o in off:
        m = o["machine"] if isinstance(o["machine"], str) else "-"
        groups.setdefault((m, o["log_clock"], o["trace_clock"], o["anchor"]), []).append(o)
    for (m, lc, tc, a), g in sorted(groups.items()):
        vals = [o["offset_s"] for o in g]
        print(f"offset {lc} - {tc} [{m}] ({a} anchors, {sum(o['n'] for o in g)} pairs in {len(g)} file pairs): "
              f"{_median(vals) * 1e3:+.3f} ms, spread {(max(vals) - min(vals)) * 1e6:.0f} us "
              f"(min {min(vals) * 1e3:+.3f}, max {max(vals) * 1e3:+.3f})", file=out)
    if args.perfetto:
        from oomnb.trace.perfetto import write_perfetto
        try:
            n = write_perfetto(tr.df_episodes(), args.perfetto)
        except OSError as e:
            raise OomnbError(f"cannot write: {e.strerror or e}", path=args.perfetto) from None
        print(f"wrote {args.perfetto} ({n} slices)", file=sys.stderr)
    report_problems(args, tr)
    return 0
