"""Property tests: random and mutated lines into every reader never raise, and the
grep prefilter never rejects a line that is OOM evidence."""

import gzip
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oomnb.errors import OomnbError
from oomnb.trace import ftrace, klog, reader
from oomnb.trace import lines as tlines

FIX = Path(__file__).resolve().parent / "fixtures" / "trace"
DATA = Path(__file__).resolve().parents[1] / "data"


def _corpus():
    lines = []
    for p in sorted(FIX.rglob("*")):
        if p.is_file() and p.suffix in (".txt", ".json", ".dmesg", ".log", ".trace"):
            lines += p.read_text().splitlines()
    for p in sorted(DATA.glob("*/aio-blocked-1024M-*/*.txt")):
        lines += p.read_text().splitlines()[:60]
    return [l for l in lines if l.strip()]


CORPUS = _corpus()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw):
    line = draw(st.sampled_from(CORPUS))
    ops = draw(st.lists(st.sampled_from(["cut", "insert", "delete", "dup", "digit", "quote", "case", "ws"]),
                        max_size=4))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for op in ops:
        n = len(line)
        i = rnd.randrange(n + 1)
        if op == "cut":
            line = line[:i]
        elif op == "insert":
            line = line[:i] + draw(st.text(max_size=8)) + line[i:]
        elif op == "delete":
            line = line[:i] + line[i + rnd.randrange(1, 6):]
        elif op == "dup":
            line = line[:i] + line[i:i + 10] + line[i:]
        elif op == "digit":
            line = "".join(rnd.choice("0123456789") if c.isdigit() and rnd.random() < 0.3 else c for c in line)
        elif op == "quote":
            line = rnd.choice(["> ", ">> ", "  ", "12: "]) + line
        elif op == "case":
            line = line.swapcase()
        elif op == "ws":
            line = line.replace(" ", rnd.choice(["  ", "\t", ""]), 3)
    return line


LINES = st.one_of(st.text(max_size=300), mutated())


@SETTINGS
@given(LINES)
def test_line_readers_never_raise(line):
    p = klog.split_prefix(line)
    klog.split_prefix(line, months=["a"] * 12, year=2000)
    klog.classify(p.msg)
    klog.classify(line, ident="earlyoom")
    klog.classify(p.msg, task_cols=["total_vm", "rss"])
    ftrace.parse_line(line)


def evidence(line: str) -> bool:
    """Would the reader take anything from this line alone (an event, a lost-events
    marker or an unparsed OOM-looking line)?"""
    r = ftrace.parse_line(line)
    if isinstance(r, tuple):
        return not (r[0] == "signal_generate" and r[1].get("sig") != 9)
    if isinstance(r, ftrace.Marker) and r.kind == "lost_events":
        return True
    if r == "other" and ("[" in line or line.startswith(("#", "cpus=", "CPU"))):
        return False   # another event's trace line (sched_switch naming oom_reaper): skipped by the reader
    p = klog.split_prefix(line)
    if klog.classify(p.msg, ident=p.ident) is not None:
        return True
    return bool(klog.OOM_LOOKING.search(p.msg))


@SETTINGS
@given(LINES)
def test_prefilter_keeps_all_evidence(line):
    if evidence(line):
        assert tlines.PREFILTER_RX.search(line), line


def test_prefilter_keeps_corpus_evidence():
    kept = [l for l in CORPUS if evidence(l)]
    assert len(kept) > 200
    assert all(tlines.PREFILTER_RX.search(l) for l in kept)


@pytest.mark.skipif(not shutil.which("grep"), reason="no grep")
def test_grep_and_python_agree(tmp_path):
    rnd = random.Random(4)
    lines = []
    for _ in range(3000):
        l = rnd.choice(CORPUS)
        if rnd.random() < 0.5:
            i = rnd.randrange(len(l) + 1)
            l = l[:i] + rnd.choice(["x", " ", "]", "[ 1 ]", "0"]) + l[i + 1:]
        lines.append(l.replace("\0", ""))
    p = tmp_path / "mix.txt"
    p.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["grep", "-a", "-n", "-E", tlines.PREFILTER, str(p)], capture_output=True).stdout
    got = {int(x.split(b":", 1)[0]) for x in out.splitlines()}
    want = {i for i, l in enumerate(lines, 1) if tlines.PREFILTER_RX.search(l)}
    assert got == want


def test_prefiltered_read_equals_full_read(tmp_path):
    src = (FIX / "real" / "dmesg.txt").read_text() + (FIX / "synthetic" / "v4.8-global.dmesg").read_text()
    p = tmp_path / "x.log"
    p.write_text(src)
    full = list(reader.read_source(reader.Input(str(p)), prefilter="never"))
    pre = list(reader.read_source(reader.Input(str(p)), prefilter="always"))
    assert [(r["line"], r["kind"], r["pid"]) for r in full] == [(r["line"], r["kind"], r["pid"]) for r in pre]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINES, max_size=40), st.sampled_from(reader.FORMATS))
def test_whole_files_never_crash(tmp_path, lines, fmt):
    from oomnb.trace import api
    p = tmp_path / "f.txt"
    p.write_bytes("\n".join(l.replace("\0", "") for l in lines).encode("utf-8", "replace"))
    try:
        tr = api.Trace([str(p)], fmt=fmt)
        tr.df_episodes()
        tr.df_offsets()
    except OomnbError as e:
        assert "\n" not in str(e)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_random_bytes_one_line_error_or_ok(tmp_path, data):
    from oomnb.trace import api
    p = tmp_path / "b.bin"
    p.write_bytes(data)
    try:
        api.Trace([str(p)]).df_episodes()
    except OomnbError as e:
        assert "\n" not in str(e) and str(p) in str(e)


def test_python_block_scan_matches_prefilter_semantics(monkeypatch):
    import io
    monkeypatch.setattr(tlines, "_hs", None)   # the pure-Python scan
    rnd = random.Random(7)
    saved = tlines.BLOCK
    try:
        for trial in range(300):
            lines = [rnd.choice(CORPUS + ["foo bar"] * 40) for _ in range(rnd.randrange(1, 60))]
            data = ("\n".join(lines) + ("\n" if rnd.random() < 0.5 else "")).encode()
            tlines.BLOCK = rnd.choice([64, 300, 4096, 1 << 20])
            got = [(i, t.rstrip("\n")) for i, t in tlines._iter(io.BytesIO(data), "x", prefilter_after=0)]
            sel = set()
            for i, l in enumerate(lines, 1):
                if tlines.PREFILTER_RX.search(l):
                    sel |= {i, i + 1} if i < len(lines) else {i}
            assert got == [(i, lines[i - 1]) for i in sorted(sel)]
    finally:
        tlines.BLOCK = saved


def test_gz_prefiltered_equals_full(tmp_path):
    import gzip
    src = (FIX / "real" / "trace-cmd-report.txt").read_text() + (FIX / "real" / "kmsg.txt").read_text()
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(src.encode()))
    full = list(reader.read_source(reader.Input(str(p)), prefilter="never"))
    pre = list(reader.read_source(reader.Input(str(p)), prefilter="always"))
    assert len(full) > 5
    assert [(r["line"], r["kind"], r["pid"]) for r in full] == [(r["line"], r["kind"], r["pid"]) for r in pre]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=10)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["MESSAGE", "SYSLOG_IDENTIFIER", "_TRANSPORT", "__REALTIME_TIMESTAMP",
                                        "_SOURCE_MONOTONIC_TIMESTAMP", "PRIORITY", "_HOSTNAME", "x"]),
                       JSON_VALUES, max_size=8))
def test_journal_json_records_never_raise(obj):
    import json
    line = json.dumps(obj)
    p = klog.split_prefix(line)
    klog.classify(p.msg, ident=p.ident)


def _mixed_file(tmp_path, n=4000):
    rnd = random.Random(11)
    lines = [rnd.choice(CORPUS + ["unrelated line"] * 200) for _ in range(n)]
    p = tmp_path / "mixed.txt"
    p.write_text("\n".join(lines) + "\n")
    return p, lines


@pytest.mark.skipif(not shutil.which("grep") or not shutil.which("head"), reason="no grep/head")
def test_parallel_grep_equals_sequential(tmp_path, monkeypatch):
    p, lines = _mixed_file(tmp_path)
    monkeypatch.setattr(tlines, "PARALLEL_MIN_BYTES", 1 << 62)
    seq = list(tlines._grep_lines(str(p)))
    monkeypatch.setattr(tlines, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(tlines.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(tlines.os, "cpu_count", lambda: 2)
    par = list(tlines._grep_lines(str(p)))
    assert par == seq and len(seq) > 100
    assert all(lines[n - 1] == t.rstrip("\n") for n, t in par)


@pytest.mark.skipif(not shutil.which("grep"), reason="no grep")
def test_stream_handed_to_grep_equals_python_scan(tmp_path, monkeypatch):
    import io
    monkeypatch.setattr(tlines, "BLOCK", 4096)
    monkeypatch.setattr(tlines, "_hs", None)
    p, lines = _mixed_file(tmp_path)
    data = p.read_bytes()
    a = list(tlines._iter(io.BytesIO(data), "x", prefilter_after=5000, grep_rest=True))
    b = list(tlines._iter(io.BytesIO(data), "x", prefilter_after=5000, grep_rest=False))
    assert a == b and len(a) < len(lines)
    assert all(lines[n - 1] == t.rstrip("\n") for n, t in a)


TABLE_CORPUS = [l for l in (FIX / "synthetic" / "v4.8-global.dmesg").read_text().splitlines()
                + (FIX / "real" / "dmesg.txt").read_text().splitlines()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(CORPUS), st.sampled_from(TABLE_CORPUS), mutated(),
                          st.just("unrelated"), st.just("")), min_size=1, max_size=120),
       st.sampled_from([64, 512, 4096]))
# a task table, a blank line, a line that is no row, a row: the table ended before the row
# (the grep and Python-re prefilters drop the middle line; the reader sees the gap)
@example(["[2026-11-25 19:31:31.157285] [  675.344016] Tasks state (memory values in pages):", "",
          "[2026-11-25 19:31:31.156111] [  675.343699] CPU: 1 UID: 0 PID: 7031 Comm: oom (x)=y z "
          "Not tainted 6.18.44-fc-v782 #1 PREEMPT(none) ",
          "[Wed Nov 25 19:22:44 2026] [   7031]     0  7031    19568    18014    16314     1700"
          "         0   188416        0             0 oom (x)=y z"], 64)
# a blank line inside a task table: the rows after it are still the table's
@example(["[  675.344016] Tasks state (memory values in pages):", "",
          "[  675.344017] [   7031]     0  7031    19568    18014    16314     1700"
          "         0   188416        0             0 oom"], 64)
def test_every_prefilter_reads_the_same_events(tmp_path, monkeypatch, lines, block):
    """Whatever prefilter reads the file (in-process matcher, grep, Python re),
    the events are those of a full read."""
    p = tmp_path / "f.txt"
    p.write_bytes("\n".join(l.replace("\0", "") for l in lines).encode("utf-8", "replace"))
    monkeypatch.setattr(tlines, "BLOCK", block)
    monkeypatch.setattr(tlines, "PREFILTER_MIN_BYTES", 64)

    def events(mode):
        st_ = reader.SourceStats(str(p))
        rows = [(r["line"], r["kind"], r["pid"], r["ts_raw"]) for r in
                reader.read_source(reader.Input(str(p)), prefilter=mode, stats=st_)]
        return rows, [(u.line, u.text) for u in st_.unparsed]

    full = events("never")
    variants = []
    if tlines._hs is not None:
        gz = tmp_path / "f.txt.gz"   # a gzip stream: the matcher over blocks read in turn
        gz.write_bytes(gzip.compress(p.read_bytes()))
        st_ = reader.SourceStats(str(gz))
        variants.append(([(r["line"], r["kind"], r["pid"], r["ts_raw"]) for r in
                          reader.read_source(reader.Input(str(gz)), prefilter="always", stats=st_)],
                         [(u.line, u.text) for u in st_.unparsed]))
        variants.append(events("always"))
        variants.append(events("auto"))
        monkeypatch.setattr(tlines, "_parallel_ok", lambda path: True)   # two processes, split mid-file
        variants.append(events("auto"))
        monkeypatch.setattr(tlines, "_parallel_ok", lambda path: False)
    saved = tlines._hs
    monkeypatch.setattr(tlines, "_hs", None)
    if shutil.which("grep"):
        variants.append(events("always"))
    monkeypatch.setattr(tlines, "use_prefilter", lambda path, mode="auto": False)
    variants.append(events("always"))
    monkeypatch.setattr(tlines, "_hs", saved)
    for v in variants:
        assert v == full
