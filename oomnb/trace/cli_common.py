"""Options and output shared by ``oomnb parse`` and ``oomnb episodes``."""

from __future__ import annotations

import json
import math
import sys

from ..errors import OomnbError
from . import reader

MAX_UNPARSED_SHOWN = 20
#: the clocks of tracefs ``trace_clock`` (kernel/trace/trace.c:trace_clocks) and the arch ones
TRACE_CLOCKS = ("local", "global", "counter", "uptime", "perf", "mono", "mono_raw", "boot", "tai",
                "x86-tsc", "ppc-tb")


def _trace_clock(text: str) -> str:
    import argparse
    if text not in TRACE_CLOCKS:
        raise argparse.ArgumentTypeError(f"unknown trace clock {text!r} (known: {', '.join(TRACE_CLOCKS)})")
    return text


def add_input_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="trace or log files ('-' = stdin, .gz read as is), directories (recursively), "
                   "data-set directories (meta.json joined)")
    p.add_argument("--format", dest="fmt", default="auto", choices=reader.FORMATS,
                   help="force a reader instead of detecting each line's format")
    p.add_argument("--trace-clock", default=None, metavar="CLOCK", type=_trace_clock,
                   help="trace_clock of ftrace files that have no metadata: " + ", ".join(TRACE_CLOCKS))
    p.add_argument("--months", default=None, metavar="M1,...,M12",
                   help="month names of the log's locale, e.g. 'janv.,févr.,mars,...' (C names always work)")
    p.add_argument("--year", type=int, default=None, help="year for syslog/journalctl lines that print none")
    p.add_argument("--strict", action="store_true", help="an unparsed OOM-looking line is an error")
    p.add_argument("--prefilter", choices=["auto", "always", "never"], default="auto",
                   help="prefilter (in-process matcher, else grep) for inputs past their first MiB (default)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="JSON records on stdout")
    g.add_argument("--csv", action="store_true", help="CSV on stdout")


def load(args):
    from .api import Trace
    months = None
    if args.months:
        months = [m.strip() for m in args.months.split(",")]
        if len(months) != 12:
            raise OomnbError(f"--months needs 12 names, got {len(months)}")
    warns = []
    tr = Trace(args.paths, fmt=args.fmt, trace_clock=args.trace_clock, months=months, year=args.year,
               strict=args.strict, prefilter=args.prefilter, warn=warns.append)
    for w in warns:
        print(f"oomnb {args.command}: warning: {w}", file=sys.stderr)
    check_input(args, tr)
    return tr


def check_input(args, tr) -> None:
    """Nothing readable is an error (a mistyped path must not look like "no OOM
    kills"); input read without OOM evidence is not, and is said on stderr."""
    where = ", ".join(args.paths)
    if not tr.inputs:
        raise OomnbError("no readable input (no trace or log files)", path=where)
    lines = sum(s.lines for s in tr.stats)
    if lines == 0:
        raise OomnbError("no readable input (empty)", path=where)
    if not tr.events() and not tr.unparsed:
        print(f"oomnb {args.command}: read {lines} line{'s' if lines != 1 else ''} in "
              f"{len(tr.inputs)} file{'s' if len(tr.inputs) != 1 else ''}: no OOM evidence in them",
              file=sys.stderr)


def report_problems(args, tr) -> None:
    un = tr.unparsed
    if un:
        print(f"oomnb {args.command}: {len(un)} unparsed OOM-looking line{'s' if len(un) != 1 else ''} "
              "(--strict makes this an error):", file=sys.stderr)
        for u in un[:MAX_UNPARSED_SHOWN]:
            print(f"  {u.path}:{u.line}: {u.text[:100]}", file=sys.stderr)
        if len(un) > MAX_UNPARSED_SHOWN:
            print(f"  ... and {len(un) - MAX_UNPARSED_SHOWN} more", file=sys.stderr)
    for x in tr.lost[:MAX_UNPARSED_SHOWN]:
        print(f"oomnb {args.command}: warning: lost trace events: {x}", file=sys.stderr)


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def integer_columns(df):
    """Whole-number columns as nullable integers (``13844``, not ``13844.0``)."""
    from .episodes import INT_COLUMNS as EP_INT
    df = df.copy()
    for c in df.columns:
        if (c in reader.INT_COLUMNS or c in EP_INT) and df[c].dtype.kind == "f":
            v = df[c].dropna()
            if (v == v.round()).all():
                df[c] = df[c].astype("Int64")
    return df


def text_table(rows: list[list[str]], header: list[str]) -> str:
    """Columns of text right-aligned under right-aligned headers, one blank
    between columns (the layout of ``DataFrame.to_string(index=False)``)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = [" ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += [" ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines) + "\n"


def cell(v, missing: str = "-") -> str:
    """A table cell's text: ``missing`` for a missing value."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    return str(v)


def missing_text(values) -> str:
    """How a table shows a missing text value: ``-``, or ``None`` in a column
    that holds no text at all."""
    return "-" if any(isinstance(v, str) for v in values) else "None"


def emit_text(rows: list[list[str]], header: list[str]) -> None:
    """The text output of ``oomnb parse`` / ``episodes`` (``rows`` of cells)."""
    sys.stdout.write(text_table(rows, header) if rows else "(none)\n")


def emit(args, df, text_cols: list[str], fmt_text=None) -> None:
    """``--json`` / ``--csv`` (or text) output of a DataFrame."""
    out = sys.stdout
    if args.json or args.csv:
        df = integer_columns(df)
    if args.json:
        recs = [{k: _clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]
        json.dump(recs, out, indent=1, ensure_ascii=False, allow_nan=False)
        out.write("\n")
    elif args.csv:
        df.to_csv(out, index=False, float_format="%.6f")
    else:
        if df.empty:
            out.write("(none)\n")
            return
        t = df[text_cols].copy() if fmt_text is None else fmt_text(df)
        out.write(t.to_string(index=False, na_rep="-") + "\n")
