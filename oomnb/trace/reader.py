"""Readers: files, ``-``, ``.gz``, directories and data sets -> event rows.

The lines come from :func:`oomnb.trace.lines.candidate_lines` (whole,
prefiltered or decoded: the readers do not care how). Each line is tried as
an ftrace event first and as a kernel-log line otherwise, so pasted mixtures
work; ``fmt`` forces one reader. Wrapped log lines are joined with their
continuation.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import events as EV
from ..errors import OomnbError
from . import ftrace, klog
from . import lines as _lines
from .lines import PREFILTER, open_lines, quoted_printable  # noqa: F401 - the readers' API

FORMATS = ["auto", "ftrace", "trace-cmd", "trace-cmd-raw", "dmesg", "kmsg", "journal-json", "syslog"]
_TRACE_FORMATS = {"ftrace", "trace-cmd", "trace-cmd-raw"}
_SKIP_SUFFIXES = {".json", ".csv", ".sha256", ".md", ".py", ".ipynb", ".dat", ".png", ".svg", ".pdf",
                  ".pyc", ".html"}
COUNTER_CLOCKS = {"counter", "x86-tsc", "ppc-tb"}


def __getattr__(name):   # PREFILTER_RX, compiled on first use
    if name == "PREFILTER_RX":
        return _lines.PREFILTER_RX
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

COLUMNS = ["machine", "run", "source", "line", "format", "kind", "ts", "ts_raw", "clock", "wall",
           "pid", "comm", "total_vm_kb", "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb",
           "uid", "oom_score_adj", "gfp_mask", "gfp_flags", "order", "nodemask", "constraint",
           "oom_memcg", "task_memcg", "context", "score", "sig", "code", "group_dead", "cpu", "task",
           "task_pid", "level", "caller", "truncated", "in_run", "dup", "detail", "raw"]

#: columns holding whole numbers (missing values make pandas store them as float)
INT_COLUMNS = {"line", "pid", "total_vm_kb", "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb",
               "uid", "oom_score_adj", "order", "score", "sig", "code", "cpu", "task_pid"}


@dataclass
class Unparsed:
    path: str
    line: int
    text: str

    def __str__(self):
        return f"{self.path}:{self.line}: unparsed OOM-looking line: {self.text[:120]}"


@dataclass
class SourceStats:
    path: str
    format: str = "auto"
    lines: int = 0
    events: int = 0
    prefiltered: bool = False
    unparsed: list[Unparsed] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    machine: str | None = None
    run: str | None = None


@dataclass
class Input:
    """One file to read, with what its data set says about it."""
    path: str
    fmt: str = "auto"
    trace_clock: str | None = None
    machine: str | None = None
    run: str | None = None
    meta: dict | None = None


# ---------------------------------------------------------------------------
# opening


# ---------------------------------------------------------------------------
# detection


def detect_format(path: str) -> str:
    """Guess a file's format from its first lines (``auto`` parsing needs no guess;
    this labels the events and picks the clock of ftrace text)."""
    votes: dict[str, int] = {}
    tcmd = False
    try:
        for n, line in _lines.open_lines(path):
            if n > 200:
                break
            s = line.strip()
            if not s:
                continue
            if n == 1 and ftrace._CPUS.match(s):
                tcmd = True
                continue
            if s.startswith("# tracer:") or s.startswith("# entries-in-buffer"):
                return "ftrace"
            r = ftrace.parse_line(line)
            if isinstance(r, tuple) or r == "other":
                inst = r[1]["instance"] if isinstance(r, tuple) and isinstance(r[1], dict) else None
                raw = isinstance(r, tuple) and isinstance(r[1], dict) and (
                    "_rss=" in line or re.search(r"group_dead=[01]\b|\bgroup=\d", line) is not None)
                key = "trace-cmd-raw" if raw else ("trace-cmd" if inst else "ftrace")
                votes[key] = votes.get(key, 0) + 1
                continue
            p = klog.split_prefix(line)
            if p.style not in ("plain", "blank"):
                st = p.style
                key = ("kmsg" if st == "kmsg" else "journal-json" if st == "journal-json"
                       else "syslog" if st.startswith(("syslog", "journal")) else "dmesg")
                votes[key] = votes.get(key, 0) + 1
    except OomnbError:
        raise
    if tcmd:
        return "trace-cmd-raw" if votes.get("trace-cmd-raw") else "trace-cmd"
    if not votes:
        return "dmesg"
    return max(sorted(votes), key=lambda k: votes[k])


# ---------------------------------------------------------------------------
# reading


def _row(inp: Input, fmt, n, kind, ts, ts_raw, clock, raw, f=None, wall=None, level=None, caller=None):
    r = dict.fromkeys(COLUMNS)
    r.update(machine=inp.machine, run=inp.run, source=inp.path, line=n, format=fmt, kind=kind, ts=ts,
             ts_raw=ts_raw, clock=clock, wall=wall, raw=raw.rstrip("\r\n"), level=level, caller=caller,
             dup=False)
    if f:
        for k, v in f.items():
            if k in r and v is not None:
                r[k] = v
    return r


class _State:
    def __init__(self, inp, fmt, trace_clock, months, year):
        self.inp, self.fmt, self.months, self.year = inp, fmt, months, year
        self.trace_clock = trace_clock
        self.task_cols = None
        self.rel_sum = 0.0
        self.rel_seen = False
        self.pending = None   # (n, raw, prefix, result, last piece): a line that may continue
        self.maxlen = 0
        self.in_table = False
        self.last_n = None    # number of the previous line seen (a gap: lines a prefilter dropped)


def read_source(inp: Input, *, trace_clock: str | None = None, months=None, year=None,
                prefilter: str = "auto", stats: SourceStats | None = None):
    """Yield event rows (dicts with :data:`COLUMNS`) of one input, streaming."""
    path = inp.path
    st = stats or SourceStats(path)
    st.machine, st.run = inp.machine, inp.run
    fmt = inp.fmt if inp.fmt != "auto" else (detect_format(path) if path != "-" else "auto")
    st.format = fmt
    clock = inp.trace_clock or trace_clock
    S = _State(inp, fmt, clock, months, year)
    force_trace = inp.fmt in _TRACE_FORMATS
    force_log = inp.fmt in ("dmesg", "kmsg", "journal-json", "syslog")
    lines, st.prefiltered = _lines.candidate_lines(path, prefilter, trace_context=force_log)
    for n, line in lines:
        st.lines = max(st.lines, n)
        if line is None:   # the number of lines read (of a prefiltered file)
            continue
        if not force_log:
            r = ftrace.parse_line(line) if ("[" in line or line.startswith(("#", "cpus=", "CPU"))) else None
            if r is not None:
                yield from _flush(S, st)
                ev = _trace_row(S, st, n, line, r)
                if ev is not None:
                    st.events += 1
                    yield ev
                continue
            if force_trace:
                if _lines.PREFILTER_RX.search(line) and _trace_looking(line):
                    st.unparsed.append(Unparsed(path, n, line.rstrip("\r\n")))
                continue
        yield from _log_line(S, st, n, line)
    yield from _flush(S, st)


def _trace_looking(line):
    return any(e + ":" in line for e in ftrace.EVENTS) or "LOST" in line


def _trace_clock_of(S, ts_text):
    c = S.trace_clock
    if c:
        return f"trace:{c}"
    return "trace:unknown" if "." in ts_text else "trace:counter"


def _trace_row(S, st, n, line, r):
    if r == "other":
        return None
    if isinstance(r, ftrace.Marker):
        if r.kind == "lost_events":
            st.lost.append(f"{st.path}:{n}: {r.detail}")
            return _row(S.inp, S.fmt, n, "lost_events", None, None, "none", line, {"detail": r.detail})
        return None
    ev, f = r
    if ev.startswith("?"):
        st.unparsed.append(Unparsed(st.path, n, line.rstrip("\r\n")))
        return None
    if ev == EV.SIGNAL_GENERATE and f.get("sig") != 9:
        return None
    ts_text = f.pop("ts_text")
    clock = _trace_clock_of(S, ts_text)
    ts = float(ts_text)
    fmt = S.fmt if S.fmt in _TRACE_FORMATS else ("trace-cmd" if f.get("instance") else "ftrace")
    f.pop("instance", None)
    f.pop("flags", None)
    f.pop("tgid", None)
    return _row(S.inp, fmt, n, ev, ts, ts_text, clock, line, f)


TERMINAL_WIDTHS = {72, 76, 78, 79, 80, 100, 120, 132, 160}
_JOINABLE = {EV.KILLED, EV.REAPED, EV.REAP_UNABLE_LINE, EV.REAP_GIVING_UP_LINE, EV.OOM_INVOKED, EV.OOM_KILL_SUMMARY,
             EV.KILL_DECISION, EV.ALREADY_EXITING, EV.MM_PINNED}


def _log_line(S, st, n, line):
    if S.last_n is not None and n > S.last_n + 1:
        S.in_table = False   # the lines a prefilter dropped are no task-table rows: the table ended
    S.last_n = n
    p = klog.split_prefix(line, months=S.months, year=S.year)
    if p.style == "blank":
        return
    raw = line.rstrip("\r\n")
    if p.clock == "delta":
        S.rel_sum += p.ts
        S.rel_seen = True
        p.ts, p.clock = S.rel_sum, f"reltime:{Path(st.path).name}"
    elif p.clock == "delta-anchor":
        p.ts, p.clock = S.rel_sum, f"reltime:{Path(st.path).name}"
    res = klog.classify(p.msg, task_cols=S.task_cols, ident=p.ident)
    if S.pending is not None:
        if res is None and p.style == "plain" and p.msg:
            j = _join(S, S.pending, p.msg)
            if j is not None:
                pn, praw, pp, _, last = S.pending
                pp.msg = j[0]
                S.pending = (pn, praw + "\n" + raw, pp, j[1], raw)
                S.maxlen = max(S.maxlen, len(raw))
                return
        yield from _flush(S, st)
    S.maxlen = max(S.maxlen, len(raw))
    if res is None:
        S.in_table = False
        if (klog.OOM_LOOKING.search(p.msg) or _fills_width(S, raw, p)) and p.ident in (None, "kernel"):
            S.pending = (n, raw, p, None, raw)   # maybe the next line continues it
        return
    kind, f = res
    if kind in (EV.TASK_TABLE, EV.TASK_COLUMNS):
        S.in_table = True
        if kind == EV.TASK_COLUMNS:
            S.task_cols = f["detail"].split()
    elif kind == EV.TASK_ROW:
        if not S.in_table:
            return   # rows exist only in a task table (after its header)
    else:
        S.in_table = False
    if kind in _JOINABLE:
        S.pending = (n, raw, p, res, raw)
        return
    st.events += 1
    yield _log_row(S, n, p, kind, f, raw)


def _fills_width(S, raw, p) -> bool:
    """A prefixed line as long as the widest so far (a terminal pads or fills
    every row of a wrapped paste): the next, unprefixed, line may continue it,
    also where the piece is too short to show an OOM message yet
    ("... invoked oo" of a 40-column window)."""
    return p.style != "plain" and len(raw) == S.maxlen and len(raw) >= 32


def _join(S, pending, cont):
    """Join a wrapped continuation line when that is unambiguous: the result must
    parse (completely, if the pending line already parsed), and joining with or
    without a space must agree, unless the pending piece fills the terminal width
    (a terminal wraps mid-word) or ends in a space."""
    _, _, pp, prev, last = pending
    prev_ok = prev is not None and not prev[1].get("truncated")
    outs, partial = {}, {}
    for sep in ("", " "):
        text = pp.msg + sep + cont.strip()
        r = klog.classify(text, task_cols=S.task_cols, ident=pp.ident)
        if r is None:
            continue
        if r[1].get("truncated") and prev is not None:
            partial[sep] = (text, r)
            continue
        outs[sep] = (text, r)
    full = len(last) in TERMINAL_WIDTHS or len(last) == S.maxlen or last.endswith((" ", "\t"))
    if not outs:
        if full and len(pp.msg) < 4096:   # wrapped more than once: keep collecting pieces
            if partial:
                return partial.get("") or partial.get(" ")
            if prev is None:
                return pp.msg + cont.strip(), None
        return None
    if prev_ok and not any(not o[1][1].get("truncated") for o in outs.values()):
        return None
    if len(outs) == 2 and outs[""][1] != outs[" "][1]:
        if full:
            return outs[""]
        return None
    return outs.get("") or outs.get(" ")


def _flush(S, st):
    if S.pending is None:
        return
    pn, praw, pp, res, _ = S.pending
    S.pending = None
    if res is None:
        if klog.OOM_LOOKING.search(pp.msg):   # (a full-width line that joined into no OOM line is none)
            st.unparsed.append(Unparsed(st.path, pn, praw.split("\n")[0]))
        return
    kind, f = res
    st.events += 1
    yield _log_row(S, pn, pp, kind, f, praw)


def _log_row(S, n, p, kind, f, raw):
    fmt = S.fmt if S.fmt not in ("auto",) and S.fmt not in _TRACE_FORMATS else "dmesg"
    if p.style == "kmsg":
        fmt = "kmsg"
    elif p.style == "journal-json":
        fmt = "journal-json"
    elif p.style.startswith(("syslog", "journal")):
        fmt = "syslog"
    ts_raw = None
    if p.ts is not None and p.clock == "printk":
        ts_raw = f"{p.ts:.6f}"
    elif p.ts is not None:
        ts_raw = repr(p.ts)
    ts = p.ts if p.ts is not None else math.nan
    return _row(S.inp, fmt, n, kind, ts, ts_raw, p.clock if p.ts is not None else "none", raw, f,
                wall=p.wall, level=p.level, caller=p.caller)


# ---------------------------------------------------------------------------
# paths, directories, data sets


def _load_json(p: Path):
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise OomnbError(f"bad metadata: {e}", path=str(p)) from None


def expand(paths, *, fmt: str = "auto", warn=None) -> list[Input]:
    """Turn command-line paths into :class:`Input` s (directories recursively;
    data-set run directories with their ``meta.json``)."""
    out: list[Input] = []
    for p in paths:
        if p == "-":
            out.append(Input("-", fmt))
            continue
        P = Path(p)
        if P.is_dir():
            out.extend(_expand_dir(P, fmt, warn))
        elif P.exists():
            out.append(_run_file(P, fmt) or Input(str(P), fmt))
        else:
            raise OomnbError("no such file or directory", path=p)
    return out


def _run_file(P: Path, fmt) -> Input | None:
    """A file of a data-set run named on its own: what the ``meta.json`` beside it says."""
    meta_p = P.parent / "meta.json"
    if not meta_p.is_file():
        return None
    meta = _load_json(meta_p)
    f_fmt = (meta.get("files") or {}).get(P.name)
    if f_fmt is None:
        return None
    use = fmt if fmt != "auto" else (f_fmt if f_fmt in FORMATS else "auto")
    return Input(str(P), use, trace_clock=meta.get("trace_clock"),
                 machine=meta.get("machine") or _machine_of(P.parent), run=P.parent.name, meta=meta)


def _machine_of(d: Path):
    for q in [d, *d.parents]:
        if (q / "machine.json").is_file():
            return q.name
    return None


def _expand_dir(d: Path, fmt, warn) -> list[Input]:
    out = []
    meta_p = d / "meta.json"
    if meta_p.is_file():
        meta = _load_json(meta_p)
        files = meta.get("files") or {}
        machine = meta.get("machine") or _machine_of(d)
        for name in sorted(files):
            f_fmt = files[name]
            if f_fmt in ("memcg-csv", "stacks"):
                continue
            fp = d / name
            if not fp.is_file():
                if warn:
                    warn(f"{fp}: listed in meta.json but missing")
                continue
            use = fmt if fmt != "auto" else (f_fmt if f_fmt in FORMATS else "auto")
            out.append(Input(str(fp), use, trace_clock=meta.get("trace_clock"), machine=machine,
                             run=d.name, meta=meta))
        return out
    try:
        entries = sorted(d.iterdir())
    except OSError as e:
        raise OomnbError(f"cannot read directory: {e.strerror}", path=str(d)) from None
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir():
            out.extend(_expand_dir(e, fmt, warn))
        elif e.is_file():
            if e.suffix in _SKIP_SUFFIXES or e.name in ("manifest.sha256", "README", "LICENSE"):
                continue
            try:
                with open(e, "rb") as f:
                    head = f.read(8192)
            except OSError as ex:
                raise OomnbError(f"cannot read: {ex.strerror}", path=str(e)) from None
            if b"\0" in head and head[:2] != b"\x1f\x8b":
                if warn:
                    warn(f"{e}: binary file skipped")
                continue
            out.append(Input(str(e), fmt, machine=_machine_of(e.parent)))
    return out


def read_memcg(inputs_or_paths):
    """memcg usage samples (``monotonic_s,usage_bytes``) of the data-set runs given,
    as a DataFrame ``machine, run, t, usage_bytes, clock``."""
    import pandas as pd
    rows = []
    seen = set()
    for d in _run_dirs(inputs_or_paths):
        if d in seen:
            continue
        seen.add(d)
        meta = _load_json(d / "meta.json")
        files = meta.get("files") or {}
        for name, f_fmt in sorted(files.items()):
            if f_fmt != "memcg-csv":
                continue
            fp = d / name
            try:
                df = pd.read_csv(fp, dtype={"monotonic_s": float, "usage_bytes": "int64"})
                if list(df.columns[:2]) != ["monotonic_s", "usage_bytes"]:
                    raise ValueError("header is not monotonic_s,usage_bytes")
            except OSError as e:
                raise OomnbError(f"cannot read: {e.strerror}", path=str(fp)) from None
            except (ValueError, pd.errors.ParserError) as e:
                raise OomnbError(f"bad memcg samples: {str(e).splitlines()[0][:120]}", path=str(fp)) from None
            machine = meta.get("machine") or _machine_of(d)
            rows.append(pd.DataFrame({"machine": machine, "run": d.name, "t": df.monotonic_s.to_numpy(),
                                      "usage_bytes": df.usage_bytes.to_numpy(), "clock": "monotonic"}))
    cols = ["machine", "run", "t", "usage_bytes", "clock"]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


def _run_dirs(paths):
    for p in paths:
        p = p.path if isinstance(p, Input) else p
        if p == "-":
            continue
        P = Path(p)
        if P.is_file():                 # a run's file: its run directory, if it is one
            if (P.parent / "meta.json").is_file():
                yield P.parent
            continue                    # a loose file: never the directories around it
        if (P / "meta.json").is_file():
            yield P
        elif P.is_dir():
            for m in sorted(P.rglob("meta.json")):
                yield m.parent


def run_metas(paths) -> dict:
    """``{(machine, run): meta}`` for the data-set runs below ``paths``."""
    out = {}
    for d in _run_dirs(paths):
        meta = _load_json(d / "meta.json")
        out[(meta.get("machine") or _machine_of(d), d.name)] = meta
    return out
