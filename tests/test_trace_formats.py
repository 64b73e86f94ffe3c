"""Every reader and rendering: fixtures (see tests/fixtures/trace/README.md) parse
into the right events and episodes."""

from pathlib import Path

import pytest

from oomnb import trace
from oomnb.trace import klog

FIX = Path(__file__).resolve().parent / "fixtures" / "trace"
REAL = FIX / "real"
SYN = FIX / "synthetic"
PID = 7031
COMM = "oom (x)=y z"
KILL_PRINTK = 675.344071


def ep_of(path, **kw):
    tr = trace.load(str(path), **kw)
    assert tr.unparsed == [], [str(u) for u in tr.unparsed]
    return tr, tr.df_episodes()


@pytest.mark.parametrize("name", ["tracefs.txt", "tracefs-noirqinfo.txt", "tracefs-tgid.txt",
                                  "tracefs-tgid-noirqinfo.txt", "trace_pipe.txt", "trace-cmd-report.txt",
                                  "trace-cmd-report-R.txt"])
def test_real_ftrace_renderings(name):
    tr, ep = ep_of(REAL / name, trace_clock="local")
    assert len(ep) == 1
    r = ep.iloc[0]
    assert (r.pid, r.comm, r.outcome, r.evidence, r.clock) == (PID, COMM, "self-exit", "trace", "trace:local")
    assert r.anon_rss_kb == 65256 and r.total_vm_kb == 78272 and r.pgtables_kb == 184
    assert r.kill_to_exit_start > 0 and r.kill_to_free > r.kill_to_exit_start
    assert r.exit_mm_done is None
    raw = {l.split(": ")[1].split()[-1] if False else None for l in []}
    del raw
    ev = tr.df_events()
    mv = ev[ev.kind == "mark_victim"].iloc[0]
    line = (REAL / name).read_text().splitlines()[mv.line - 1]
    assert mv.ts_raw in line and r.kill == float(mv.ts_raw)


def test_trace_cmd_format_detected():
    assert trace.load(str(REAL / "trace-cmd-report.txt")).stats[0].format == "trace-cmd"
    assert trace.load(str(REAL / "tracefs.txt")).stats[0].format == "ftrace"


DMESG_LIKE = ["dmesg.txt", "dmesg-r.txt", "dmesg-x.txt", "dmesg-d.txt", "kmsg.txt", "journal.json",
              "console-ts.txt"]


@pytest.mark.parametrize("name", DMESG_LIKE)
def test_real_printk_renderings(name):
    tr, ep = ep_of(REAL / name)
    assert len(ep) == 1
    r = ep.iloc[0]
    assert (r.pid, r.comm, r.evidence, r.clock, r.kill_printk) == (PID, COMM, "log-only", "printk", KILL_PRINTK)
    assert (r.gfp_mask, r.gfp_flags, r.order, r.oom_score_adj) == ("0xcc0", "GFP_KERNEL", 0, 0)
    assert r.constraint == "CONSTRAINT_MEMCG" and r.oom_memcg.endswith("oomnb-fixture-6989")
    assert (r.anon_rss_kb, r.uid, r.victim_oom_score_adj) == (65256, 0, 0)
    ev = tr.df_events()
    row = ev[ev.kind == "task_row"].iloc[0]
    assert (row.pid, row.comm, row.anon_rss_kb, row.pgtables_kb) == (PID, COMM, 16314 * 4, 188416 // 1024)


@pytest.mark.parametrize("name,style,wall", [
    ("dmesg-T.txt", "wall", "2026-11-25T19:22:44"),
    ("dmesg-iso.txt", "wall", "2026-11-25T19:22:44.344071+00:00"),
    ("journal-short.txt", "wall-noyear", None),   # no year: no (partial) wall time
    ("journal-short-precise.txt", "wall-noyear", None),
    ("journal-short-iso.txt", "wall", "2026-11-25T19:30:55+00:00"),
    ("journal-short-iso-precise.txt", "wall", "2026-11-25T19:30:55.737313+00:00"),
    ("dmesg-e.txt", "reltime:dmesg-e.txt", None),
])
def test_real_wall_and_relative_renderings(name, style, wall):
    tr, ep = ep_of(REAL / name)
    assert len(ep) == 1
    r = ep.iloc[0]
    assert (r.pid, r.comm, r.evidence, r.clock) == (PID, COMM, "log-only", style)
    assert r.kill_wall == wall
    assert r.gfp_mask == "0xcc0" and r.constraint == "CONSTRAINT_MEMCG"


def test_reltime_sums_deltas():
    ev = trace.load(str(REAL / "dmesg-e.txt")).df_events()
    hdr = ev[ev.kind == "oom_invoked"].ts.iloc[0]
    kill = ev[ev.kind == "killed"].ts.iloc[0]
    assert kill - hdr == pytest.approx(675.344071 - 675.343658, abs=2e-6)


def test_year_option_for_yearless_lines():
    ep = trace.df_episodes(str(REAL / "journal-short.txt"), year=2026)
    assert ep.kill_wall.iloc[0] == "2026-11-25T19:30:55"


def test_trace_and_log_together_give_offset():
    tr = trace.load([str(REAL / "tracefs.txt"), str(REAL / "dmesg.txt")], trace_clock="local")
    ep = tr.df_episodes()
    assert len(ep) == 1 and ep.evidence.iloc[0] == "trace+log"
    assert ep.offset_s.iloc[0] == pytest.approx(KILL_PRINTK - 675.379968, abs=1e-9)


def test_v48_child_sacrificed_and_giving_up():
    tr, ep = ep_of(SYN / "v4.8-global.dmesg")
    assert list(ep.pid) == [601, 700]
    a, b = ep.iloc[0], ep.iloc[1]
    assert (a.selected_pid, a.selected_comm, a.score, a.outcome) == (600, "stress", 900, "reaped")
    assert a.gfp_mask == "0x24280ca" and a.gfp_flags == "GFP_HIGHUSER_MOVABLE|__GFP_ZERO"
    assert a.kill_to_reaped_printk == pytest.approx(0.1196)
    assert b.outcome == "unable" and b.unable_printk == 201.1
    rows = tr.df_events(["task_row"])
    assert set(rows.pid) == {500, 600, 601}
    assert "nr_ptes=950" in rows[rows.pid == 600].detail.iloc[0]


def test_v49_memcg_unable():
    _, ep = ep_of(SYN / "v4.9-memcg.dmesg")
    r = ep.iloc[0]
    assert (r.pid, r.outcome, r.nodemask, r.gfp_flags) == (800, "unable", "0", "GFP_KERNEL")


def test_v51_global_summary():
    _, ep = ep_of(SYN / "v5.1.dmesg")
    r = ep.iloc[0]
    assert (r.pid, r.outcome, r.constraint, r.task_memcg, r.uid) == (900, "reaped", "CONSTRAINT_NONE", "/user.slice", None)


def test_rhel_vendor_forms():
    _, e6 = ep_of(SYN / "rhel6.log")
    _, e7 = ep_of(SYN / "rhel7.log")
    assert (e6.pid.iloc[0], e6.comm.iloc[0], e6.uid.iloc[0], e6.anon_rss_kb.iloc[0]) == (4321, "mysqld", 27, 7500000)
    assert e6.clock.iloc[0] == "wall-noyear"   # syslog lines print no year
    assert (e7.pid.iloc[0], e7.comm.iloc[0], e7.uid.iloc[0], e7.shmem_rss_kb.iloc[0]) == (5555, "java", 1001, 0)
    assert (e7.clock.iloc[0], e7.kill_printk.iloc[0]) == ("printk", 5000.123556)


def test_v413_pid_only_and_old_exit():
    tr, ep = ep_of(SYN / "v4.13-pid-only.trace", trace_clock="global")
    a, b = ep.iloc[0], ep.iloc[1]
    assert (a.pid, a.outcome, a.clock) == (601, "reaped", "trace:global")
    assert a.exit_mm_done == 100.13 and a.exit_start is None        # no group_dead: after exit_mm
    assert a.kill_to_exit_mm_done == pytest.approx(0.129605) and a.kill_to_exit_start is None
    assert a.reap_duration == pytest.approx(0.1194) and a.kill_to_wake == pytest.approx(3e-6)
    assert (b.pid, b.outcome, b.reap_attempts) == (700, "skipped", 2)
    assert a.lost_events and len(tr.lost) == 2
    ev = tr.df_events()
    assert set(ev.kind) >= {"oom_score_adj_update", "reclaim_retry_zone", "compact_retry", "lost_events"}
    cr = ev[ev.kind == "compact_retry"].iloc[0]
    assert cr.order == 3 and "compaction_result=failed" in cr.detail


def test_counter_clock_stays_raw():
    _, ep = ep_of(SYN / "counter-clock.trace", trace_clock="counter")
    r = ep.iloc[0]
    assert (r.clock, r.time_unit, r.kill, r.reap_duration) == ("trace:counter", "counts", 1000000.0, 2000.0)


def test_userspace_killers_excluded():
    tr, ep = ep_of(SYN / "userspace-killers.log")
    assert list(ep.pid) == [4444]
    us = tr.df_events(["userspace_kill"])
    assert list(us.pid.fillna(-1)) == [3333, -1]
    assert all("not a kernel kill" in d for d in us.detail)


# -- damaged input, derived from real/dmesg.txt ------------------------------

def _real_lines():
    return (REAL / "dmesg.txt").read_text().splitlines()


def _check_one_kill(text, tmp_path, **kw):
    p = tmp_path / "paste.txt"
    p.write_text(text)
    tr = trace.load(str(p), **kw)
    ep = tr.df_episodes()
    assert len(ep) == 1, ep
    r = ep.iloc[0]
    assert (r.pid, r.comm, r.anon_rss_kb) == (PID, COMM, 65256)
    return tr, r


@pytest.mark.parametrize("prefix", ["> ", ">> ", "> > ", ">"])
def test_mail_quoting(prefix, tmp_path):
    tr, r = _check_one_kill("\n".join(prefix + l for l in _real_lines()), tmp_path)
    assert r.kill_printk == KILL_PRINTK and r.gfp_mask == "0xcc0" and tr.unparsed == []


def test_line_numbers_indentation_blank_lines(tmp_path):
    text = "\n\n".join(f"{i:4d}:   {l}" for i, l in enumerate(_real_lines(), 1))
    tr, r = _check_one_kill(text, tmp_path)
    assert r.kill_printk == KILL_PRINTK and tr.unparsed == []


@pytest.mark.parametrize("width", [72, 80, 100])
def test_wrapped_lines_are_joined(width, tmp_path):
    # `fold -w WIDTH` (a terminal) cuts mid-word; the continuation has no prefix
    out = []
    for l in _real_lines():
        while len(l) > width:
            out.append(l[:width])
            l = l[width:]
        out.append(l)
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert r.kill_printk == KILL_PRINTK
    assert (r.file_rss_kb, r.pgtables_kb, r.victim_oom_score_adj) == (6800, 184, 0)
    assert r.constraint == "CONSTRAINT_MEMCG"


def test_mailer_wrap_at_space(tmp_path):
    out = []
    for l in _real_lines():
        if "Killed process" in l:
            cut = l.index(" file-rss")
            out += [l[:cut], l[cut + 1:]]
        else:
            out.append(l)
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert r.file_rss_kb == 6800 and tr.unparsed == []


def test_journalctl_ellipsis_and_cut_lines(tmp_path):
    out = [l[:l.index("file-rss") + 7] + "…" if "Killed process" in l else l for l in _real_lines()]
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert r.note and "cut off" in r.note
    assert r.pgtables_kb is None
    ev = tr.df_events(["killed"])
    assert bool(ev.truncated.iloc[0])


def test_interleaved_unrelated_lines(tmp_path):
    out = []
    for i, l in enumerate(_real_lines()):
        out.append(l)
        out.append("[  675.400000] INFO: task kworker/0:1:%d blocked for more than 120 seconds." % (100 + i))
        out.append("Nov 25 19:22:44 vm systemd[1]: Started session-%d.scope - Session of user root." % i)
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert tr.unparsed == [] and r.kill_printk == KILL_PRINTK


def test_duplicate_kill_lines_one_episode(tmp_path):
    # memory.oom.group kills the group after the victim: the victim's line repeats
    out = []
    for l in _real_lines():
        out.append(l)
        if "Killed process" in l:
            out.append(l.replace("675.344071", "675.344090"))
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert r.kill_printk == KILL_PRINTK


def test_printk_caller_ids(tmp_path):
    out = [l.replace("] ", "][ T7031] ", 1) for l in _real_lines()]
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    ev = tr.df_events(["killed"])
    assert ev.caller.iloc[0] == "T7031" and r.kill_printk == KILL_PRINTK


def test_no_timestamps(tmp_path):
    out = [l.split("] ", 1)[1] for l in _real_lines()]
    tr, r = _check_one_kill("\n".join(out), tmp_path)
    assert r.clock is None and r.gfp_mask == "0xcc0"


def test_pid_reuse_gives_two_episodes(tmp_path):
    kill = [l for l in _real_lines() if "Killed process" in l][0]
    later = kill.replace("675.344071", "9675.000000")
    p = tmp_path / "reuse.txt"
    p.write_text(kill + "\n" + later + "\n")
    ep = trace.df_episodes(str(p))
    assert list(ep.episode) == [0, 1] and list(ep.pid) == [PID, PID]


def test_unparsed_oom_lines_counted_and_strict(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("[  1.000000] Out of memory: Killed process abc (x)\n[  2.000000] oom_reaper: reaped garbage\n")
    tr = trace.load(str(p))
    assert [u.line for u in tr.unparsed] == [1, 2]
    with pytest.raises(trace.api.OomnbError, match=r"bad.txt:1: "):
        trace.load(str(p), strict=True)


def test_locale_month_names():
    names = "janv.,févr.,mars,avr.,mai,juin,juil.,août,sept.,oct.,nov.,déc.".split(",")
    p = klog.split_prefix("[mer. nov. 25 19:22:44 2026] x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), "
                          "order=0, oom_score_adj=0", months=names)
    assert p.wall == "2026-11-25T19:22:44" and p.msg.startswith("x invoked")
    p = klog.split_prefix("[Mi Dez  3 01:02:03 2026] hi", months=["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul",
                                                                   "Aug", "Sep", "Okt", "Nov", "Dez"])
    assert p.wall == "2026-12-03T01:02:03"


def test_classify_names_with_spaces_parens_equals():
    for comm in ["a b", "x (y) z", "k=v", "((", "a), now anon-rss:1kB"]:
        k, f = klog.classify(f"Memory cgroup out of memory: Killed process 12 ({comm}) total-vm:1kB, "
                             "anon-rss:2kB, file-rss:3kB, shmem-rss:4kB, UID:5 pgtables:6kB oom_score_adj:-7")
        assert (k, f["pid"], f["comm"], f["oom_score_adj"]) == ("killed", 12, comm, -7)
        k, f = klog.classify(f"oom_reaper: reaped process 12 ({comm}), now anon-rss:0kB, file-rss:1kB, shmem-rss:2kB")
        assert (k, f["comm"], f["file_rss_kb"]) == ("reaped", comm, 1)
        k, f = klog.classify(f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0-1,"
                             f"oom_memcg=/a,task_memcg=/a/b,task={comm},pid=12,uid=0")
        assert (k, f["comm"], f["pid"], f["oom_memcg"]) == ("oom_kill_summary", comm, 12, "/a")


def test_kmsg_continuation_dict_lines_ignored(tmp_path):
    p = tmp_path / "kmsg.txt"
    body = (REAL / "kmsg.txt").read_text().splitlines()
    out = []
    for l in body:
        out.append(l)
        out.append(" SUBSYSTEM=memory")
    p.write_text("\n".join(out) + "\n")
    tr = trace.load(str(p), fmt="kmsg")
    assert tr.unparsed == [] and tr.df_episodes().kill_printk.iloc[0] == KILL_PRINTK


@pytest.mark.parametrize("name,fmt", [("trace-cmd-report.txt", "trace-cmd"), ("trace-cmd-report-R.txt", "trace-cmd-raw"),
                                      ("tracefs.txt", "ftrace"), ("trace_pipe.txt", "ftrace"), ("kmsg.txt", "kmsg"),
                                      ("journal.json", "journal-json"), ("journal-short.txt", "syslog"),
                                      ("dmesg-x.txt", "dmesg")])
def test_format_detection(name, fmt):
    assert trace.load(str(REAL / name)).stats[0].format == fmt


def test_format_forced():
    # a kernel-log reader forced on a trace finds nothing; a trace reader forced on a log neither
    assert trace.load(str(REAL / "tracefs.txt"), fmt="dmesg").df_events().empty
    tr = trace.load(str(REAL / "dmesg.txt"), fmt="ftrace")
    assert tr.df_events().empty and tr.unparsed == []
    ev = trace.load(str(REAL / "kmsg.txt"), fmt="kmsg").df_events()
    assert set(ev.format) == {"kmsg"}


def test_reap_only_episode_kept(tmp_path):
    reaped = [l for l in (FIX.parent.parent.parent / "data" / "epyc2-cgroup1-linux6.18" / "aio-blocked-1024M-2"
                          / "dmesg.txt").read_text().splitlines() if "reaped process 13984" in l]
    p = tmp_path / "tail.txt"
    p.write_text(reaped[0] + "\n")
    ep = trace.df_episodes(str(p))
    assert len(ep) == 1
    r = ep.iloc[0]
    assert (r.pid, r.evidence, r.outcome, r.reaped_printk, r.anon_rss_after_kb) == (13984, "reap-only", "reaped",
                                                                                     1502.982009, 0)


def test_reaper_events_after_sched_process_free_stay_with_their_kill():
    """sched_process_free is traced an RCU grace period after release_task; the
    oom_reaper keeps its own task reference and may still work on the victim
    (here 2 s later, OOM_REAPER_DELAY): one episode, reaped, not a second,
    kill-less one."""
    tr, ep = ep_of(SYN / "reap-after-free.trace", trace_clock="global")
    assert len(ep) == 1, ep[["pid", "outcome"]]
    row = ep.iloc[0]
    assert row["pid"] == 812 and row["outcome"] == "reaped"
    assert row["free"] < row["reap_start"] < row["reap_finish"]
