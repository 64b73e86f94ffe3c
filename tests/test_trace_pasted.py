"""Logs as people paste them: quoted-printable mail bodies, terminal-wrapped
lines, ``dmesg -T`` in other locales, syslog lines without a year.

Fixtures in tests/fixtures/trace/real2/ (``capture.sh`` says how each was
made from this machine's kernel log: two real memcg OOM kills, pid 316
reaped by the oom_reaper and pid 325).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oomnb import trace
from oomnb.trace import klog, reader

R2 = Path(__file__).resolve().parent / "fixtures" / "trace" / "real2"


def episodes(path, **kw):
    tr = trace.load(str(path), **kw)
    assert tr.unparsed == [], [str(u) for u in tr.unparsed]
    return tr.df_episodes().set_index("pid")


def same_as_plain(ep):
    """The plain dmesg's episodes, value for value."""
    want = episodes(R2 / "dmesg.txt")
    cols = ["outcome", "anon_rss_kb", "file_rss_kb", "total_vm_kb", "anon_rss_after_kb", "file_rss_after_kb",
            "gfp_mask", "order", "oom_score_adj", "constraint", "oom_memcg", "uid", "pgtables_kb"]
    assert list(ep.index) == [316, 325]
    assert ep[cols].astype(str).to_dict() == want[cols].astype(str).to_dict()
    assert ep.loc[316, "outcome"] == "reaped" and ep.loc[316, "anon_rss_after_kb"] == 0


def test_quoted_printable_mail_body():
    text = (R2 / "dmesg.qp.txt").read_text()
    assert "=3D" in text and any(ln.endswith("=") for ln in text.splitlines())   # really encoded
    assert reader.quoted_printable(str(R2 / "dmesg.qp.txt"))
    assert not reader.quoted_printable(str(R2 / "dmesg.txt"))
    ep = episodes(R2 / "dmesg.qp.txt")
    same_as_plain(ep)
    # numbered by the first physical line of each decoded line
    src = ep.loc[316, "sources"]
    n = int(src.split("reaped_printk=")[1].split(";")[0].rsplit(":", 1)[1])
    assert text.splitlines()[n - 1].startswith("[ 1478.725075] oom_reaper: reaped process 316")


def test_ftrace_is_not_taken_for_quoted_printable():
    fix = Path(__file__).resolve().parent / "fixtures" / "trace" / "real"
    for f in ("tracefs.txt", "kmsg.txt", "dmesg.txt", "journal.json"):
        assert not reader.quoted_printable(str(fix / f)), f


def test_terminal_wrapped_and_padded_80():
    lines = (R2 / "dmesg.wrapped80.txt").read_text().splitlines()
    assert {len(ln) for ln in lines} == {80}   # every row padded to the width
    same_as_plain(episodes(R2 / "dmesg.wrapped80.txt"))


@pytest.mark.parametrize("width", [40, 48, 64, 90, 132])
def test_terminal_wrapped_at_any_width(tmp_path, width):
    """A window of any width: the OOM lines wrap two or three times."""
    rows = []
    for ln in (R2 / "dmesg.txt").read_text().splitlines():
        rows += [ln[i:i + width].ljust(width) for i in range(0, max(len(ln), 1), width)]
    f = tmp_path / "paste.txt"
    f.write_text("\n".join(rows) + "\n")
    same_as_plain(episodes(f))


@pytest.mark.parametrize("loc", ["fr_FR", "pt_BR", "zh_CN", "ja_JP"])
def test_dmesg_T_in_other_locales(loc):
    ep = episodes(R2 / f"dmesg-T.{loc}.txt")
    assert list(ep.index) == [316, 325]
    assert ep.loc[316, "clock"] == "wall" and ep.loc[316, "kill_wall"] == "2026-11-29T19:19:12"
    assert ep.loc[325, "kill_wall"] == "2026-11-29T19:19:14"
    assert ep.loc[316, "outcome"] == "reaped"


def test_month_names_of_glibc_locales():
    """``locale abmon`` of each locale (what dmesg -T prints with %b)."""
    bad = []
    for line in (R2 / "abmon.txt").read_text().splitlines():
        loc, *names = line.split(";")
        for i, name in enumerate(names, 1):
            if klog.month_number(name) != i:
                bad.append((loc, name, klog.month_number(name)))
    assert bad == []


def test_dmesg_T_in_czech():
    """``LC_TIME=cs_CZ.UTF-8 dmesg -T`` ("[Ne lis 29 21:13:51 2026]") reads as the plain dmesg."""
    r3 = R2.parent / "real3"
    ep = episodes(r3 / "dmesg-T.cs_CZ.txt")
    plain = episodes(r3 / "dmesg.txt")
    assert list(ep.index) == list(plain.index) == [1946]
    assert ep.loc[1946, "clock"] == "wall" and ep.loc[1946, "kill_wall"] == "2026-11-29T21:13:51"
    cols = ["outcome", "anon_rss_kb", "file_rss_kb", "total_vm_kb", "gfp_mask", "order", "constraint", "oom_memcg"]
    assert ep[cols].astype(str).to_dict() == plain[cols].astype(str).to_dict()


def test_no_year_gives_no_partial_timestamp():
    p = klog.split_prefix("Nov 25 19:30:55 host kernel: Memory cgroup out of memory: Killed process 1 (x)")
    assert p.wall is None and p.clock == "wall-noyear"
    p = klog.split_prefix("Nov 25 19:30:55 host kernel: x", year=2026)
    assert p.wall == "2026-11-25T19:30:55" and p.clock == "wall"
    p = klog.split_prefix("[Nov25 19:22] Killed process 1 (x)")
    assert p.wall is None


def test_readers_take_their_lines_from_one_function(tmp_path, monkeypatch):
    """reader.read_source does not care where its lines come from."""
    from oomnb.trace import lines
    f = tmp_path / "x.log"
    f.write_text("nothing here\n")
    got = [(7, "[ 1.000000] Memory cgroup out of memory: Killed process 42 (x) total-vm:1kB, anon-rss:1kB, "
                "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0\n")]
    monkeypatch.setattr(lines, "candidate_lines", lambda path, prefilter="auto", **kw: (iter(got), True))
    st = reader.SourceStats(str(f))
    rows = list(reader.read_source(reader.Input(str(f)), stats=st))
    assert [(r["line"], r["kind"], r["pid"]) for r in rows] == [(7, "killed", 42)] and st.prefiltered
    assert not any(hasattr(reader, n) for n in ("_hs_scan_block", "_grep_lines", "_iter", "_scan_block"))
