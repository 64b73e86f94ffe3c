"""Streaming readers: files, ``-``, ``.gz``, directories and data sets -> event rows.

Inputs are read in blocks (never whole). Past its first MiB an input is
prefiltered: by the in-process multi-pattern matcher (hyperscan, with the
scan of a large plain file split over two processes when a CPU is idle), else
by ``grep`` subprocesses, else by Python ``re``; all keep the lines matching
:data:`PREFILTER`, the line after each (for continuation joining) and the
rows of task tables. ``tests/test_trace_fuzz.py`` shows that every line the
prefilter rejects is not OOM evidence and that every prefilter gives the
events of a full read. Each line is tried as an ftrace event first and as a
kernel-log line otherwise, so pasted mixtures work; ``fmt`` forces one
reader.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import events as EV
from ..errors import OomnbError
from . import ftrace, klog



def _caseless(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)   # letters and "-" only


#: what OOM evidence looks like, one alternative each: the ftrace events the
#: readers know (``mark_victim:``, ...), the printk messages of mm/oom_kill.c,
#: user-space killers, the task table and the trace's lost-event markers. No
#: bare ``oom`` or ``reap``: scheduler lines naming tasks like ``oom01`` or
#: ``oom_reaper`` are not evidence.
PREFILTER_ALTS = (
    [f"{name}:" for name, e in EV.EVENTS.items() if e.tracefs]
    + ["illed process", "ill process", "invoked oom-killer", "oom_reaper:", "oom-kill:", "OOM victim",
       "has mm pinned", "[Oo]ut of memory", "on memory", "illable",
       "Tasks state", "\\[ *pid *\\]"]
    + [_caseless(w) for w in ("earlyoom", "oomd", "lowmemorykiller", "lmkd", "nohang", "oom-killer-daemon")]
    + ["LOST", "DROPPED", "entries-in", "buffer started", "cpus="]
    + ["\\] +-?[0-9]+ +[0-9]+ +[0-9]+"])   # a task-table row (grep and re; hyperscan follows tables)
#: extended regular expression (valid for both ``grep -E`` and Python ``re``)
#: that every line of OOM evidence matches; the prefilter drops other lines.
PREFILTER = "|".join(PREFILTER_ALTS)
PREFILTER_RX = re.compile(PREFILTER)
PREFILTER_MIN_BYTES = 1 << 20

FORMATS = ["auto", "ftrace", "trace-cmd", "trace-cmd-raw", "dmesg", "kmsg", "journal-json", "syslog"]
_TRACE_FORMATS = {"ftrace", "trace-cmd", "trace-cmd-raw"}
_SKIP_SUFFIXES = {".json", ".csv", ".sha256", ".md", ".py", ".ipynb", ".dat", ".png", ".svg", ".pdf",
                  ".pyc", ".html"}
COUNTER_CLOCKS = {"counter", "x86-tsc", "ppc-tb"}

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


def _check_text(head: bytes, path: str) -> None:
    if b"\0" in head:
        raise OomnbError("binary file, not a text trace or log", path=path)


def open_lines(path: str, prefilter_after: int | None = None):
    """Yield ``(lineno, text)`` of ``path`` (``-`` is stdin; ``.gz`` is decompressed);
    past ``prefilter_after`` bytes only prefiltered lines (see :func:`_iter`)."""
    if path == "-":
        raw = sys.stdin.buffer
        head = raw.peek(8192)[:8192] if hasattr(raw, "peek") else b""
        if head[:2] == b"\x1f\x8b":
            raw = gzip.GzipFile(fileobj=raw)
            head = b""
        if head:
            _check_text(head, "<stdin>")
        yield from _iter(raw, "<stdin>", prefilter_after, grep_rest=True)
        return
    try:
        f = open(path, "rb")
    except OSError as e:
        raise OomnbError(f"cannot read: {e.strerror or e}", path=path) from None
    with f:
        try:
            magic = f.peek(2)[:2]
        except OSError as e:
            raise OomnbError(f"cannot read: {e.strerror or e}", path=path) from None
        src = f
        if magic == b"\x1f\x8b":
            src = gzip.GzipFile(fileobj=f)
            try:
                head = src.peek(8192)[:8192]
            except (OSError, EOFError, gzip.BadGzipFile) as e:
                raise OomnbError(f"bad gzip data: {e}", path=path) from None
            _check_text(head, path)
            yield from _iter(src, path, prefilter_after, grep_rest=True)
            return
        else:
            head = f.peek(8192)[:8192]
        _check_text(head, path)
        yield from _iter(src, path, prefilter_after)


PREFILTER_BRX = re.compile(PREFILTER.encode())
BLOCK = 8 << 20

try:   # a compiled multi-pattern matcher (SIMD); grep or re are the fallbacks
    import hyperscan as _hs
except Exception:   # pragma: no cover - depends on the platform
    _hs = None

#: the prefilter's alternatives for the in-process matcher: all but the task-row
#: pattern, whose ``]`` is in every trace line; task rows are taken instead by
#: following a task table from its header (``Tasks state`` or ``[ pid ]``) row by row
HS_ALTS = [a for a in PREFILTER_ALTS if not a.startswith("\\] +")]
HS_TABLE_IDS = {i for i, a in enumerate(HS_ALTS) if a in ("Tasks state", "\\[ *pid *\\]")}
TABLE_LINE_BRX = re.compile(rb"\[\s*\d+\]\s+-?\d+\s+\d+\s+\d+|\[ *pid *\]")
_HS_DB = None


def hyperscan_available() -> bool:
    return _hs is not None


def _hs_db():
    global _HS_DB
    if _HS_DB is None:
        db = _hs.Database()
        db.compile(expressions=[a.encode() for a in HS_ALTS], ids=list(range(len(HS_ALTS))),
                   elements=len(HS_ALTS), flags=[0] * len(HS_ALTS))
        _HS_DB = db
    return _HS_DB


def _hs_scan_block(blk: bytes, n0: int, state: dict, lo: int = 0, hi: int | None = None):
    """Lines of ``blk[lo:hi]`` (whole lines; line ``n0 + 1`` starts at ``lo``) to
    read: those matching the prefilter, the line after each, and the rows of
    task tables; ``state`` carries context and table mode over blocks and
    receives the number of newlines in the range."""
    size = len(blk) if hi is None else hi
    hits = {}

    def on_match(i, frm, to, flags, ctx):
        if lo < to <= size:
            st = blk.rfind(b"\n", lo, max(to - 1, lo)) + 1
            st = max(st, lo)
            hits[st] = hits.get(st, False) or i in HS_TABLE_IDS

    _hs_db().scan(blk, match_event_handler=on_match)
    want = set()

    def nxt(st):
        e = blk.find(b"\n", st, size)
        return size if e < 0 else e + 1

    def walk_table(cur):
        while cur < size:
            e = nxt(cur)
            if not TABLE_LINE_BRX.search(blk, cur, e):
                want.add(cur)   # context after the table
                return
            want.add(cur)
            cur = e
        state["table"] = True   # the table goes on in the next block

    ctx, table = state.get("context"), state.get("table")
    state["context"] = state["table"] = False
    if ctx and size > lo:
        want.add(lo)
    if table:
        walk_table(lo)
    for st in sorted(hits):
        want.add(st)
        e = nxt(st)
        if e < size:
            want.add(e)
        else:
            state["context"] = True
        if hits[st]:
            walk_table(e)
    # line numbers: newlines counted (in C) between successive wanted lines, never a
    # per-byte array of the block
    state["newlines"] = blk.count(b"\n", lo, size)
    k, prev = 0, lo
    for st in sorted(want):
        k += blk.count(b"\n", prev, st)
        prev = st
        yield n0 + 1 + k, blk[st:nxt(st)].decode("utf-8", "replace")


def _hs_iter(raw, path, n: int, carry: bytes, state: dict):
    """The prefiltered rest of a stream, without copying its blocks: the line
    that straddles two blocks is scanned on its own."""
    while True:
        blk = raw.read(BLOCK)
        if not blk:
            if carry:
                if b"\0" in carry:
                    raise OomnbError("binary data in a text file", path=path, line=n + 1)
                yield from _hs_scan_block(carry, n, state)
                state["lines"] = n + state["newlines"] + (0 if carry.endswith(b"\n") else 1)
            return
        if b"\0" in blk:
            i = blk.index(b"\0")
            raise OomnbError("binary data in a text file", path=path, line=n + blk.count(b"\n", 0, i) + 1)
        first = blk.find(b"\n")
        if first < 0:
            carry += blk
            continue
        head = carry + blk[:first + 1]
        yield from _hs_scan_block(head, n, state)
        n += state["newlines"]
        last = blk.rfind(b"\n") + 1
        if last > first + 1:
            yield from _hs_scan_block(blk, n, state, first + 1, last)
            n += state["newlines"]
        carry = blk[last:]
        state["lines"] = n


class _Limited(io.RawIOBase):
    """The first ``limit`` bytes of a binary file, as a stream."""

    def __init__(self, f, limit):
        self.f, self.left = f, limit

    def readable(self):
        return True

    def read(self, n=-1):
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        b = self.f.read(n)
        self.left -= len(b)
        return b


def _hs_parallel_lines(path: str, size: int, prefilter_after: int):
    """Two processes scan the two halves of a large plain file; the second
    half's lines (found by a forked child) come back through a temporary file."""
    import pickle
    import tempfile
    with open(path, "rb") as f:
        f.seek(size // 2)
        f.readline()
        mid = f.tell()
    fd, tmp = tempfile.mkstemp(prefix="oomnb-scan-")
    os.close(fd)
    pid = os.fork()
    if pid == 0:   # child: scan [mid, size)
        code = 1
        try:
            with open(path, "rb") as f, open(tmp, "wb") as out:
                f.seek(mid)
                st = {"context": False, "table": False}
                batch = []
                for item in _hs_iter(f, path, 0, b"", st):
                    batch.append(item)
                    if len(batch) >= 4096:
                        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                        batch = []
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    try:
        state = {}
        with open(path, "rb") as f:
            yield from _iter(_Limited(f, mid), path, prefilter_after, state=state)
        n = state["lines"]
        fixmax = n
        if state.get("context") or state.get("table"):
            # the first half ended on a line that wants its next line, or inside a task table
            with open(path, "rb") as f:
                f.seek(mid)
                k = n
                for b in f:
                    k += 1
                    yield k, b.decode("utf-8", "replace")
                    fixmax = k
                    if not (state.get("table") and TABLE_LINE_BRX.search(b)):
                        break
        _, status = os.waitpid(pid, 0)
        pid = 0
        if status != 0:
            raise OomnbError("prefilter worker failed", path=path)
        with open(tmp, "rb") as r:
            while True:
                try:
                    batch = pickle.load(r)
                except EOFError:
                    break
                for k, text in batch:
                    if n + k > fixmax:
                        yield n + k, text
    finally:
        if pid:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _iter(raw, path, prefilter_after: int | None = PREFILTER_MIN_BYTES, grep_rest: bool = False,
          state: dict | None = None):
    """Lines of a binary stream, read in large blocks. After ``prefilter_after``
    bytes, only the lines matching :data:`PREFILTER` (and the line after each,
    for continuation joining) are yielded, found by a regular-expression scan
    of whole blocks; smaller inputs are yielded whole."""
    n = 0          # lines before the current block
    done = 0       # bytes before the current block
    carry = b""
    if state is None:
        state = {}
    state.update(context=False, table=False, lines=0)   # carried from block to block
    try:
        while True:
            want = BLOCK
            if prefilter_after is not None and done < prefilter_after:
                want = max(4096, min(BLOCK, prefilter_after - done))   # read the unfiltered head exactly
            blk = raw.read(want)
            if not blk:
                if carry:
                    blk, carry = carry, b""
                    last = True
                else:
                    break
            else:
                blk = carry + blk
                cut = blk.rfind(b"\n")
                if cut < 0:
                    carry = blk
                    continue
                blk, carry = blk[:cut + 1], blk[cut + 1:]
                last = False
            if b"\0" in blk:
                i = blk.index(b"\0")
                raise OomnbError("binary data in a text file", path=path, line=n + blk.count(b"\n", 0, i) + 1)
            if prefilter_after is None or done < prefilter_after:
                # lines end at "\n" only (as for grep and the block scans), not at a lone "\r"
                for line in blk[:-1].split(b"\n") if blk.endswith(b"\n") else blk.split(b"\n"):
                    line += b"\n"
                    n += 1
                    yield n, line.decode("utf-8", "replace")
            elif _hs is not None:
                yield from _hs_scan_block(blk, n, state)
                n += state["newlines"]
                state["lines"] = n
                if not last:
                    yield from _hs_iter(raw, path, n, carry, state)
                return
            elif grep_rest and shutil.which("grep"):
                yield from _grep_stream(blk + carry, raw, path, n)
                return
            else:
                yield from _scan_block(blk, n, state)
                n += blk.count(b"\n") + (0 if blk.endswith(b"\n") else 1)
            done += len(blk)
            state["lines"] = n
            if last:
                break
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise OomnbError(f"read error: {e}", path=path, line=n + 1) from None


def _scan_block(blk: bytes, n0: int, state: dict):
    pos = 0          # newlines counted up to here
    ln = n0 + 1      # line number of the line starting at pos
    after = 0 if state["context"] else -1   # also yield the line starting here (context)
    state["context"] = False
    for m in PREFILTER_BRX.finditer(blk):
        s = blk.rfind(b"\n", 0, m.start()) + 1
        if s < pos:
            continue   # this line was already yielded
        ln += blk.count(b"\n", pos, s)
        pos = s
        if after >= 0 and after < s:
            e0 = blk.find(b"\n", after)
            lnc = ln - blk.count(b"\n", after, s)
            yield lnc, blk[after:e0 + 1 if e0 >= 0 else len(blk)].decode("utf-8", "replace")
        e = blk.find(b"\n", s)
        e = len(blk) if e < 0 else e + 1
        yield ln, blk[s:e].decode("utf-8", "replace")
        ln += 1
        pos = e
        after = e if e < len(blk) else -1
        if e >= len(blk):
            state["context"] = True
    if after >= 0:
        e0 = blk.find(b"\n", after)
        yield ln, blk[after:e0 + 1 if e0 >= 0 else len(blk)].decode("utf-8", "replace")


def _grep_stream(first: bytes, raw, path, n0: int):
    """Prefilter the rest of a stream (``first``, then ``raw``) with ``grep``, fed
    from a thread; line numbers continue from ``n0``."""
    import threading
    p = subprocess.Popen(_grep_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = []

    def feed():
        try:
            p.stdin.write(first)
            while True:
                b = raw.read(BLOCK)
                if not b:
                    break
                p.stdin.write(b)
        except BrokenPipeError:
            pass
        except (OSError, EOFError, zlib.error) as e:
            err.append(e)
        finally:
            try:
                p.stdin.close()
            except OSError:
                pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        yield from _parse_grep_output(p.stdout, path, base=n0)
        t.join()
        _check_rc(p, path)
        if err:
            raise OomnbError(f"read error: {err[0]}", path=path)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


PARALLEL_MIN_BYTES = 64 << 20


def _grep_cmd():
    return ["grep", "-a", "-n", "-E", "-A1", "--no-group-separator", PREFILTER]


def _parse_grep_output(stream, path, base=0):
    for b in stream:
        i = 0
        while i < len(b) and 48 <= b[i] <= 57:
            i += 1
        if i == 0 or i >= len(b):
            continue
        text = b[i + 1:]
        if b"\0" in text:
            raise OomnbError("binary data in a text file", path=path, line=base + int(b[:i]))
        yield base + int(b[:i]), text.decode("utf-8", "replace")


def _check_rc(p, path):
    err = p.stderr.read().decode("utf-8", "replace").strip() if p.stderr else ""
    p.wait()
    if p.returncode not in (0, 1):
        raise OomnbError(f"prefilter failed: {err.splitlines()[0] if err else p.returncode}", path=path)


def _parallel_ok(path: str) -> bool:
    """Split the scan of a large plain file over two processes when a CPU is idle."""
    if path == "-" or not hasattr(os, "fork"):
        return False
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return False
        size = os.path.getsize(path)
    except OSError:
        return False
    ncpu = os.cpu_count() or 1
    idle = ncpu - (os.getloadavg()[0] if hasattr(os, "getloadavg") else ncpu)
    return size >= PARALLEL_MIN_BYTES and ncpu >= 2 and idle >= 0.5


def _grep_lines(path: str):
    """Yield ``(lineno, text)`` of the lines matching :data:`PREFILTER`, plus the
    line after each (for continuation joining), via ``grep`` subprocesses: two in
    parallel on the two halves of a large file when there are two CPUs."""
    size = os.path.getsize(path)
    ncpu = os.cpu_count() or 1
    idle = ncpu - (os.getloadavg()[0] if hasattr(os, "getloadavg") else ncpu)
    if size < PARALLEL_MIN_BYTES or ncpu < 2 or idle < 1.0 or not shutil.which("head"):
        with subprocess.Popen(_grep_cmd() + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
            yield from _parse_grep_output(p.stdout, path)
            _check_rc(p, path)
        return
    # split at a line start near the middle; the second part starts one line early so
    # that the last line of the first part keeps its continuation context
    with open(path, "rb") as f:
        f.seek(size // 2)
        f.readline()
        mid = f.tell()
        back = max(0, mid - 65536)
        f.seek(back)
        chunk = f.read(mid - back)
        nl = chunk.rfind(b"\n", 0, len(chunk) - 1)
        start_b = back + nl + 1 if nl >= 0 else mid
    import tempfile
    fb = open(path, "rb")
    fb.seek(start_b)
    out_b = tempfile.TemporaryFile()
    pb = subprocess.Popen(_grep_cmd(), stdin=fb, stdout=out_b, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-c", str(mid), path], stdout=subprocess.PIPE)
    pa = subprocess.Popen(_grep_cmd(), stdin=head.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head.stdout.close()
    try:
        lines_before_b = 0
        with open(path, "rb") as f:
            left = start_b
            while left > 0:
                buf = f.read(min(left, 8 << 20))
                if not buf:
                    break
                lines_before_b += buf.count(b"\n")
                left -= len(buf)
        last = 0
        for n, text in _parse_grep_output(pa.stdout, path):
            last = n
            yield n, text
        _check_rc(pa, path)
        head.wait()
        _check_rc(pb, path)
        out_b.seek(0)
        for n, text in _parse_grep_output(out_b, path, base=lines_before_b):
            if n > last:
                yield n, text
    finally:
        for p in (pa, pb, head):
            if p.poll() is None:
                p.kill()
                p.wait()
        fb.close()
        out_b.close()


def use_prefilter(path: str, mode: str = "auto") -> bool:
    if mode == "never" or path == "-" or not shutil.which("grep"):
        return False
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return False   # open_lines prefilters a .gz past its first MiB
            f.seek(0)
            _check_text(f.read(8192), path)
        size = os.path.getsize(path)
    except OSError as e:
        raise OomnbError(f"cannot read: {e.strerror or e}", path=path) from None
    return mode == "always" or size >= PREFILTER_MIN_BYTES


# ---------------------------------------------------------------------------
# detection


def detect_format(path: str) -> str:
    """Guess a file's format from its first lines (``auto`` parsing needs no guess;
    this labels the events and picks the clock of ftrace text)."""
    votes: dict[str, int] = {}
    tcmd = False
    try:
        for n, line in open_lines(path):
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
    after = {"never": None, "always": 0}.get(prefilter, PREFILTER_MIN_BYTES)
    qp = path != "-" and quoted_printable(path)
    if qp:   # a mail archive's body: decoded line by line, never prefiltered (a soft break may split a pattern)
        prefilter, after = "never", None
    pre = _hs is None and use_prefilter(path, prefilter)   # grep, when there is no in-process matcher
    st.prefiltered = pre or (prefilter != "never" and _hs is not None)
    if pre:
        lines = _grep_lines(path)
    elif _hs is not None and after is not None and _parallel_ok(path):
        lines = _hs_parallel_lines(path, os.path.getsize(path), after)
    else:
        lines = open_lines(path, after)
    if qp:
        lines = _qp_lines(lines)
    force_trace = inp.fmt in _TRACE_FORMATS
    force_log = inp.fmt in ("dmesg", "kmsg", "journal-json", "syslog")
    for n, line in lines:
        st.lines = max(st.lines, n)
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
                if PREFILTER_RX.search(line) and _trace_looking(line):
                    st.unparsed.append(Unparsed(path, n, line.rstrip("\r\n")))
                continue
        yield from _log_line(S, st, n, line)
    yield from _flush(S, st)


_QP_ESCAPE = re.compile(rb"=(?:3D|20|09|[89A-F][0-9A-F])")


def quoted_printable(path: str, head_bytes: int = 65536) -> bool:
    """Does the file look like a quoted-printable body (RFC 2045)?  Soft line
    breaks (a line ending in ``=``, at most 76 columns) and ``=XX`` escapes
    (``=3D`` for ``=``) in its head."""
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return False
            f.seek(0)
            head = f.read(head_bytes)
    except OSError:
        return False
    soft = 0
    for ln in head.splitlines()[:-1]:
        if ln.endswith(b"=") and not ln.endswith(b"==") and len(ln) <= 76:
            soft += 1
    return soft >= 1 and _QP_ESCAPE.search(head) is not None


def _qp_lines(lines):
    """Decode quoted-printable lines: soft breaks join a line with the next one
    (numbered by its first piece), ``=XX`` escapes become their bytes."""
    import quopri
    first, parts = None, []
    for n, text in lines:
        t = text.rstrip("\r\n")
        if first is None:
            first = n
        if t.endswith("=") and not t.endswith("=="):
            parts.append(t[:-1])
            continue
        parts.append(t)
        raw = "".join(parts).encode("utf-8", "surrogateescape")
        yield first, quopri.decodestring(raw).decode("utf-8", "replace") + "\n"
        first, parts = None, []
    if parts:
        yield first, quopri.decodestring("".join(parts).encode("utf-8", "surrogateescape")).decode(
            "utf-8", "replace") + "\n"


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
        if klog.OOM_LOOKING.search(p.msg) and (p.ident in (None, "kernel")):
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
        if P.is_file():
            P = P.parent
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
