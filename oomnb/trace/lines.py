"""Where a reader's lines come from: :func:`candidate_lines`.

One function yields the ``(line number, text)`` pairs a reader looks at;
the readers (:mod:`oomnb.trace.reader`) do not care how. Inputs under a
MiB are read whole. A larger plain file is prefiltered from its start by the
in-process multi-pattern matcher (hyperscan: blocks read into reused buffers,
scanned in a thread without the GIL while their lines are numbered and
parsed; a file past 64 MiB split over two processes when there are two
CPUs); a stream (stdin, ``.gz``) past its first MiB; without the matcher,
``grep`` subprocesses, else Python ``re``. All keep the lines matching
:data:`PREFILTER`, the line after each (for continuation joining; the
matcher not after an ftrace event line, which no reader joins) and the rows
of task tables. ``tests/test_trace_fuzz.py`` shows that every line the
prefilter rejects is not OOM evidence and that every prefilter gives the
events of a full read; ``tests/test_trace_prefilter_fast.py`` that the
matcher's path gives a full read's events and episodes on data/ and on
``oomnb bench parse``'s trace. A quoted-printable body (a mail archive, a
file or stdin) is decoded, line by line, and never prefiltered. Lines end
at ``\n`` only.
"""

from __future__ import annotations

import io
import os
import re
import sys

from .. import events as EV
from ..errors import OomnbError


#: the task table's column header ``[  pid  ]`` (any blanks, as the reader; ``\s`` is
#: also GNU grep's; a bounded repeat here would cost hyperscan 30x the compile time)
TASK_HEADER = "\\[\\s*pid\\s*\\]"


#: user-space killers' names (any case, as the log reader matches them)
USERSPACE_KILLERS = ("earlyoom", "oomd", "lowmemorykiller", "lmkd", "nohang", "oom-killer-daemon")


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
       "has mm pinned", "ut of memory", "on memory", "illable",
       "Tasks state", TASK_HEADER]
    + [_caseless(w) for w in USERSPACE_KILLERS]
    + ["LOST", "DROPPED", "entries-in", "buffer started", "cpus="]
    + ["\\] +-?[0-9]+ +[0-9]+ +[0-9]+"])   # a task-table row (grep and re; hyperscan follows tables)
#: extended regular expression (valid for both ``grep -E`` and Python ``re``)
#: that every line of OOM evidence matches; the prefilter drops other lines.
PREFILTER = "|".join(PREFILTER_ALTS)
PREFILTER_MIN_BYTES = 1 << 20

def _check_text(head: bytes, path: str) -> None:
    if b"\0" in head:
        raise OomnbError("binary file, not a text trace or log", path=path)


def open_lines(path: str, prefilter_after: int | None = None, stdin=None):
    """Yield ``(lineno, text)`` of ``path`` (``-`` is stdin, or the binary stream
    ``stdin``; ``.gz`` is decompressed); past ``prefilter_after`` bytes only
    prefiltered lines (see :func:`_iter`)."""
    import gzip

    if path == "-":
        raw = stdin or sys.stdin.buffer
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


BLOCK = 2 << 20


def __getattr__(name):
    """``PREFILTER_RX`` / ``PREFILTER_BRX``: :data:`PREFILTER` compiled (str, bytes)
    on first use (the matcher's scan needs neither)."""
    if name == "PREFILTER_RX":
        globals()[name] = re.compile(PREFILTER)
    elif name == "PREFILTER_BRX":
        globals()[name] = re.compile(PREFILTER.encode())
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return globals()[name]

try:   # a compiled multi-pattern matcher (SIMD); grep or re are the fallbacks
    import hyperscan as _hs
except Exception:   # pragma: no cover - depends on the platform
    _hs = None

#: the prefilter's alternatives for the in-process matcher: all but the task-row
#: pattern, whose ``]`` is in every trace line; task rows are taken instead by
#: following a task table from its header (``Tasks state`` or ``[ pid ]``) row by row
HS_ALTS = ([a for a in PREFILTER_ALTS
            if not a.startswith("\\] +") and a not in {_caseless(w) for w in USERSPACE_KILLERS}]
           + list(USERSPACE_KILLERS))   # these with the matcher's caseless flag (cheaper than classes)
HS_TABLE_IDS = {i for i, a in enumerate(HS_ALTS) if a in ("Tasks state", TASK_HEADER)}
TABLE_LINE_BRX = re.compile(rb"\[\s*\d+\]\s+-?\d+\s+\d+\s+\d+|\[\s*pid\s*\]")
_HS_DB = None


def hyperscan_available() -> bool:
    return _hs is not None


def _hs_db():
    global _HS_DB
    if _HS_DB is None:
        db = _hs.Database()
        db.compile(expressions=[a.encode() for a in HS_ALTS], ids=list(range(len(HS_ALTS))),
                   elements=len(HS_ALTS),
                   flags=[_hs.HS_FLAG_CASELESS if a in USERSPACE_KILLERS else 0 for a in HS_ALTS])
        _HS_DB = db
    return _HS_DB


def _hs_scan_block(blk: bytes, n0: int, state: dict, lo: int = 0, hi: int | None = None):
    """Lines of ``blk[lo:hi]`` (whole lines; line ``n0 + 1`` starts at ``lo``) to
    read, as :func:`_hs_wanted` chooses them; ``state`` carries context and
    table mode over blocks and receives the number of newlines in the range."""
    part = blk if lo == 0 and hi in (None, len(blk)) else blk[lo:hi]
    lines, state["newlines"], state["context"], state["table"] = _hs_wanted(
        part, bool(state.get("context")), bool(state.get("table")))
    for k, text in lines:
        yield n0 + 1 + k, text


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


def _trace_event_line(text: str) -> bool:
    """Is this an ftrace event line (which the readers never join with the next line)?"""
    from .ftrace import _LINE, MAX_LINE
    s = text.rstrip("\r\n")
    return len(s) <= MAX_LINE and _LINE.match(s) is not None


def _blank(blk, st: int, e: int) -> bool:
    """Is ``blk[st:e]`` a blank line (which the readers skip, inside a task table too)?"""
    return _NONBLANK.search(blk, st, e) is None


_NONBLANK = re.compile(rb"\S")


def _hs_hits(blk, size: int, scratch=None) -> dict:
    """Line starts in ``blk[:size]`` where the prefilter matches: ``{start: is a
    task table's header}``. The matcher runs without the GIL."""
    hits = {}

    def on_match(i, frm, to, flags, ctx):
        st = blk.rfind(b"\n", 0, max(to - 1, 0)) + 1
        hits[st] = hits.get(st, False) or i in HS_TABLE_IDS

    _hs_db().scan(memoryview(blk)[:size], match_event_handler=on_match, scratch=scratch)
    return hits


def _hs_wanted(blk, ctx_in: bool, table_in: bool, scratch=None, size: int | None = None,
               trace_context: bool = True, hits: dict | None = None):
    """The lines of a block of whole lines (``blk``) to read: those matching the
    prefilter (``hits``, else scanned for), the line after each, the rows of
    task tables, and, carried from the block before, its first line
    (``ctx_in``) or the rest of a task table (``table_in``). Returns
    ``(lines, newlines, ctx_out, table_out)``: ``lines`` as ``(newlines before,
    text)``, the block's newline count, and whether the next block's first
    line is wanted or continues a table. ``blk`` may be a reused buffer, of
    which the first ``size`` bytes are the block. ``trace_context``: also the
    line after an ftrace event line (only a log line may continue on the next
    one)."""
    size = len(blk) if size is None else size
    if hits is None:
        hits = _hs_hits(blk, size, scratch)
    want = set()
    out = {"table": False, "context": False}

    def nxt(st):
        e = blk.find(b"\n", st, size)
        return size if e < 0 else e + 1

    def walk_table(cur):
        while cur < size:
            e = nxt(cur)
            want.add(cur)
            if not (TABLE_LINE_BRX.search(blk, cur, e) or _blank(blk, cur, e)):
                return   # the line after the table is its context
            cur = e
        out["table"] = True   # the table goes on in the next block

    if ctx_in and size:
        want.add(0)
    if table_in:
        walk_table(0)
    for st in sorted(hits):
        want.add(st)
        e = nxt(st)
        if not trace_context and not hits[st] and _trace_event_line(blk[st:e].decode("utf-8", "replace")):
            continue
        if e < size:
            want.add(e)
        else:
            out["context"] = True
        if hits[st]:
            walk_table(e)
    lines = []
    pos = n = 0
    for st in sorted(want):
        n += blk.count(b"\n", pos, st)
        pos = st
        lines.append((n, blk[st:nxt(st)].decode("utf-8", "replace")))
    return lines, n + blk.count(b"\n", pos, size), out["context"], out["table"]


def _hs_file_lines(path: str, prefilter_after: int | None, trace_context: bool = True, start: int = 0,
                   end: int | None = None, state: dict | None = None):
    """The lines of bytes ``[start, end)`` (whole lines) of a plain file to read:
    all of the first ``prefilter_after`` bytes (``None``: all), then the
    prefiltered rest, scanned block by block by a thread (the matcher runs
    without the GIL, while this one hands out lines); last ``(lines, None)``,
    the number of lines read. ``state`` receives it, and what the last block
    carries into the next (``context``, ``table``)."""
    import queue
    import threading
    try:
        f = open(path, "rb", buffering=0)
    except OSError as e:
        raise OomnbError(f"cannot read: {e.strerror or e}", path=path) from None
    state = {} if state is None else state
    # buffers reused (no fresh pages per block), one for each stage and queue below
    ring = [bytearray(BLOCK + (64 << 10)) for _ in range(6)]

    def blocks():
        """``(buffer, size)``: blocks of whole lines read into the ring's buffers
        (the last block may lack its newline)."""
        carry = b""
        i = 0
        while True:
            buf = ring[i % len(ring)]
            i += 1
            k = len(carry)
            if len(buf) < k + BLOCK:   # a long line carried over
                buf.extend(bytes(k + BLOCK - len(buf)))
            buf[:k] = carry
            room = BLOCK if left[0] is None else min(BLOCK, left[0])
            got = f.readinto(memoryview(buf)[k:k + room]) if room > 0 else 0
            if left[0] is not None:
                left[0] -= got
            size = k + got
            if not got:
                if k:
                    yield buf, k
                return
            cut = buf.rfind(b"\n", 0, size) + 1
            if cut == 0:
                carry = bytes(buf[:size])
                i -= 1
                continue
            carry = bytes(buf[cut:size])
            yield buf, cut

    def binary(blk, n, size=None):
        i = blk.find(b"\0", 0, size if size is not None else len(blk))
        return OomnbError("binary data in a text file", path=path, line=n + blk.count(b"\n", 0, i) + 1)

    n = 0   # lines before the current block
    left = [None if end is None else end - start]
    ctx = table = False
    with f:
        try:
            f.seek(start)
            rest = b""
            head = prefilter_after
            while head is None or head > 0:   # the head: every line
                want = BLOCK if head is None else max(1, min(BLOCK, head))
                if left[0] is not None:
                    want = min(want, left[0])
                b = f.read(want) if want > 0 else b""
                if not b:
                    break
                if left[0] is not None:
                    left[0] -= len(b)
                if head is not None:
                    head -= len(b)
                    if head <= 0 and not b.endswith(b"\n"):   # finish the line the head ends in
                        tail = f.readline() if left[0] is None else f.readline(left[0])
                        if left[0] is not None:
                            left[0] -= len(tail)
                        b += tail
                b = rest + b
                cut = b.rfind(b"\n") + 1 if head is None or head > 0 else len(b)
                b, rest = b[:cut], b[cut:]
                if b"\0" in b:
                    raise binary(b, n)
                for line in b[:-1].split(b"\n") if b.endswith(b"\n") else b.split(b"\n"):
                    n += 1
                    yield n, (line + b"\n").decode("utf-8", "replace")
            if rest:   # a file without newlines in its head
                if b"\0" in rest:
                    raise binary(rest, n)
                n += 1
                yield n, rest.decode("utf-8", "replace")
            # three stages: the matcher's scan (without the GIL), the lines and
            # their numbers, the readers (in this thread), each on its own block
            scanned = queue.Queue(maxsize=1)
            done = queue.Queue(maxsize=1)
            stop = threading.Event()

            def scanner():
                try:
                    scratch = _hs.Scratch(_hs_db())
                    for blk, size in blocks():
                        if stop.is_set():
                            return
                        binary_ = blk.find(b"\0", 0, size) >= 0
                        scanned.put((blk, size, None if binary_ else _hs_hits(blk, size, scratch)))
                except BaseException as e:   # handed to the reading thread
                    scanned.put(e)
                    return
                scanned.put(None)

            def liner():
                while True:
                    r = scanned.get()
                    if r is None or isinstance(r, BaseException):
                        done.put(r)
                        return
                    blk, size, hits = r
                    try:
                        done.put((blk, size, None if hits is None else
                                  _hs_wanted(blk, False, False, None, size, trace_context, hits)))
                    except BaseException as e:
                        done.put(e)
                        return

            threads = [threading.Thread(target=f, name=f"oomnb-prefilter-{f.__name__}", daemon=True)
                       for f in (scanner, liner)]
            for t in threads:
                t.start()
            try:
                while True:
                    r = done.get()
                    if r is None:
                        break
                    if isinstance(r, BaseException):
                        raise r
                    blk, size, r = r
                    if r is None:
                        raise binary(blk, n, size)
                    lines, nl, ctx_out, table_out = r
                    if ctx or table:   # what the block before carries into this one
                        more, table_more = _hs_carried(bytes(blk[:size]), ctx, table)
                        have = {k for k, _ in lines}
                        lines = sorted(lines + [x for x in more if x[0] not in have])
                        table_out = table_out or table_more
                    n_next = n + nl + (0 if blk[size - 1:size] == b"\n" else 1)
                    for k, text in lines:
                        yield n + k + 1, text
                    n = n_next
                    ctx, table = ctx_out, table_out
            finally:
                stop.set()
                while any(t.is_alive() for t in threads):   # let the stages finish their blocks
                    for q in (done, scanned):
                        try:
                            q.get(timeout=0.02)
                        except queue.Empty:
                            pass
        except OSError as e:
            raise OomnbError(f"read error: {e}", path=path, line=n + 1) from None
    state.update(lines=n, context=ctx, table=table)
    yield n, None


def _hs_split_lines(path: str, size: int, prefilter_after: int | None, trace_context: bool = True):
    """:func:`_hs_file_lines` of a large plain file in two processes: a forked
    child scans the second half (the matcher is one at a time per process) and
    hands its lines back through a temporary file; ``(lines, None)`` last."""
    import pickle
    import tempfile
    with open(path, "rb") as f:
        f.seek(max(size // 2, prefilter_after or 0))
        f.readline()
        mid = f.tell()
    if mid >= size:
        yield from _hs_file_lines(path, prefilter_after, trace_context)
        return
    fd, tmp = tempfile.mkstemp(prefix="oomnb-scan-")
    os.close(fd)
    pid = os.fork()
    if pid == 0:   # child: [mid, size)
        code = 1
        try:
            with open(tmp, "wb") as out:
                batch = []
                for item in _hs_file_lines(path, 0, trace_context, start=mid):
                    batch.append(item)
                    if len(batch) >= 4096:
                        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                        batch = []
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        except OomnbError as e:
            text = str(e)
            where = f"{e.path}:{e.line}: " if e.line is not None else f"{e.path}: "
            with open(tmp, "wb") as out:
                pickle.dump(("error", text[len(where):] if text.startswith(where) else text, e.line), out)
            code = 0
        finally:
            os._exit(code)
    try:
        state = {}
        for k, text in _hs_file_lines(path, prefilter_after, trace_context, 0, mid, state):
            if text is not None:
                yield k, text
        n = fixmax = state["lines"]
        if state["context"] or state["table"]:   # the first half wants the start of the second
            with open(path, "rb") as f:
                f.seek(mid)
                chunk = b""
                for line in f:   # the first line; or the table's rows and the line after them
                    chunk += line
                    if not (state["table"] and (TABLE_LINE_BRX.search(line) or not line.strip())):
                        break
            cut = len(chunk)
            more, _ = _hs_carried(chunk[:cut], state["context"], state["table"])
            for k, text in more:
                yield n + k + 1, text
                fixmax = n + k + 1
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
                if isinstance(batch, tuple):   # the child's error, with its line in the second half
                    _, msg, line = batch
                    raise OomnbError(msg, path=path, line=None if line is None else n + line)
                for k, text in batch:
                    if text is None:
                        yield n + k, None
                    elif n + k > fixmax:
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


def _hs_carried(blk: bytes, ctx: bool, table: bool):
    """The lines at the start of ``blk`` that the block before asks for (no matcher run)."""
    size = len(blk)
    want = []
    out_table = False
    if ctx and size:
        want.append(0)
    if table:
        cur = 0
        while cur < size:
            e = blk.find(b"\n", cur)
            e = size if e < 0 else e + 1
            want.append(cur)
            if not (TABLE_LINE_BRX.search(blk, cur, e) or _blank(blk, cur, e)):
                break
            cur = e
        else:
            out_table = True
    lines = []
    for st in sorted(set(want)):
        e = blk.find(b"\n", st)
        lines.append((blk.count(b"\n", 0, st), blk[st:(size if e < 0 else e + 1)].decode("utf-8", "replace")))
    return lines, out_table


def _iter(raw, path, prefilter_after: int | None = PREFILTER_MIN_BYTES, grep_rest: bool = False,
          state: dict | None = None):
    """Lines of a binary stream, read in large blocks. After ``prefilter_after``
    bytes, only the lines matching :data:`PREFILTER` (and the line after each,
    for continuation joining) are yielded, found by a regular-expression scan
    of whole blocks; smaller inputs are yielded whole."""
    import gzip
    import shutil
    import zlib

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
    for m in __getattr__("PREFILTER_BRX").finditer(blk):
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
    import subprocess
    import zlib

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
    """Scan a large plain file with two threads (the matcher runs without the GIL)
    when there are two CPUs."""
    if path == "-" or _is_gzip(path):
        return False
    try:
        size = os.path.getsize(path)
    except OSError:
        return False
    return size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2


def _grep_lines(path: str):
    """Yield ``(lineno, text)`` of the lines matching :data:`PREFILTER`, plus the
    line after each (for continuation joining), via ``grep`` subprocesses: two in
    parallel on the two halves of a large file when there are two CPUs."""
    import shutil
    import subprocess

    size = os.path.getsize(path)
    ncpu, idle = _idle_cpus()
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
    import shutil

    if mode == "never" or path == "-" or not shutil.which("grep") or _is_gzip(path):
        return False   # open_lines prefilters a .gz past its first MiB
    try:
        with open(path, "rb") as f:
            _check_text(f.read(8192), path)
        size = os.path.getsize(path)
    except OSError as e:
        raise OomnbError(f"cannot read: {e.strerror or e}", path=path) from None
    return mode == "always" or size >= PREFILTER_MIN_BYTES


_QP_ESCAPE = re.compile(rb"=(?:3D|20|09|[89A-F][0-9A-F])")


def quoted_printable(path: str, head_bytes: int = 65536) -> bool:
    """Does the file look like a quoted-printable body (RFC 2045)?  Soft line
    breaks (a line ending in ``=``, at most 76 columns) and ``=XX`` escapes
    (``=3D`` for ``=``) in its head."""
    if _is_gzip(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(head_bytes)
    except OSError:
        return False
    return _looks_quoted_printable(head)


def _looks_quoted_printable(head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b":
        return False
    soft = 0
    for ln in head.splitlines()[:-1]:
        if ln.endswith(b"=") and not ln.endswith(b"==") and len(ln) <= 76:
            soft += 1
    return soft >= 1 and _QP_ESCAPE.search(head) is not None


class _Prepended(io.RawIOBase):
    """``head``, then the rest of the binary stream ``rest``."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def readable(self):
        return True

    def readinto(self, b):
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(b))
        b[:len(data)] = data
        return len(data)


def _stdin_head(head_bytes: int = 65536):
    """Standard input as a binary stream, and its first ``head_bytes`` bytes (read
    ahead, to tell its encoding; the stream still gives them)."""
    raw = sys.stdin.buffer
    try:
        head = raw.read(head_bytes) or b""
    except OSError as e:
        raise OomnbError(f"read error: {e}", path="<stdin>") from None
    return io.BufferedReader(_Prepended(head, raw), buffer_size=1 << 16), head


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


def _is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _idle_cpus() -> tuple[int, float]:
    """(CPUs, CPUs idle by the 1-minute load average)."""
    ncpu = os.cpu_count() or 1
    return ncpu, ncpu - (os.getloadavg()[0] if hasattr(os, "getloadavg") else ncpu)


def candidate_lines(path: str, prefilter: str = "auto", trace_context: bool = True):
    """``(line number, text)`` of the lines of ``path`` a reader must look at:
    all of a small input, the prefiltered lines of a large one (``prefilter``:
    ``auto``, ``always``, ``never``), the decoded lines of a quoted-printable
    body; a ``(lines, None)`` pair may come last, saying how many lines were
    read. Returns ``(lines, prefiltered)``. ``trace_context``: the line after
    a prefiltered ftrace event line too (for a reader that joins any line
    with the next; in ``auto`` mode the readers parse trace lines alone)."""
    after = {"never": None, "always": 0}.get(prefilter, PREFILTER_MIN_BYTES)
    if path == "-":
        stdin, head = _stdin_head()
        if _looks_quoted_printable(head):   # a soft break may split a pattern: never prefiltered
            return _qp_lines(open_lines(path, None, stdin)), False
        return open_lines(path, after, stdin), prefilter != "never" and _hs is not None
    if quoted_printable(path):   # a soft break may split a pattern: never prefiltered
        return _qp_lines(open_lines(path, None)), False
    pre = _hs is None and use_prefilter(path, prefilter)   # grep, when there is no in-process matcher
    prefiltered = pre or (prefilter != "never" and _hs is not None)
    if pre:
        return _grep_lines(path), prefiltered
    if (_hs is not None and after is not None and path != "-" and not _is_gzip(path)
            and os.path.getsize(path) > after):   # (a smaller file is read whole, below)
        if prefilter == "auto" and os.path.getsize(path) >= PREFILTER_MIN_BYTES:
            after = 0   # a large file: all of it prefiltered (by the matcher: no start-up cost)
        if _parallel_ok(path):
            return _hs_split_lines(path, os.path.getsize(path), after, trace_context), prefiltered
        return _hs_file_lines(path, after, trace_context), prefiltered
    return open_lines(path, after), prefiltered
