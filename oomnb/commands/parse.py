"""``oomnb parse``: the events table of OOM evidence (ftrace text, kernel logs)."""

NAME = "parse"
HELP = "read ftrace text and kernel logs into the OOM events table"
DESCRIPTION = """\
Read ftrace text (tracefs trace/trace_pipe, trace-cmd report [-R]) and kernel
logs (dmesg in all its renderings, journalctl, syslog, console, /dev/kmsg
records) and print one row per recognised OOM line: kind, time and clock
domain, pid, comm, RSS fields. Unparsed OOM-looking lines are listed on
stderr with file and line (--strict: an error). The columns are documented
in oomnb.trace (python -c 'import oomnb.trace; help(oomnb.trace)').

examples:
  oomnb parse /var/log/kern.log
  dmesg -T | oomnb parse -
  oomnb parse --trace-clock local trace.txt dmesg.txt --csv > events.csv
  oomnb parse data/epyc2-cgroup1-linux6.18/ --kinds mark_victim,killed
"""

TEXT_COLS = ["source", "line", "kind", "clock", "ts_raw", "pid", "comm", "anon_rss_kb"]


def add_arguments(p):
    from oomnb.trace.cli_common import add_input_arguments
    add_input_arguments(p)
    p.add_argument("--kinds", default=None, metavar="K1,K2",
                   help="only these kinds (an error if one is missing)")
    p.add_argument("--no-dup", action="store_true", help="drop log rows repeating an earlier row")


def _int(x) -> str:
    return str(int(x)) if x is not None and x == x else "-"


def run(args) -> int:
    from oomnb.trace.cli_common import cell, emit, emit_text, load, missing_text, report_problems
    tr = load(args)
    kinds = args.kinds.split(",") if args.kinds else None
    if args.json or args.csv:
        emit(args, tr.df_events(kinds, include_dup=not args.no_dup), TEXT_COLS)
    else:   # the text table, without building a DataFrame
        ev = tr.events(kinds, include_dup=not args.no_dup)
        na = {c: missing_text(getattr(e, c) for e in tr.events()) for c in ("kind", "clock", "ts_raw", "comm")}
        emit_text([[f"{e.source}:{e.line}", cell(e.kind, na["kind"]), cell(e.clock, na["clock"]),
                    cell(e.ts_raw, na["ts_raw"]), _int(e.pid), cell(e.comm, na["comm"]), _int(e.anon_rss_kb)]
                   for e in ev],
                  ["where", "kind", "clock", "ts", "pid", "comm", "anon_rss_kb"])
    report_problems(args, tr)
    return 0
