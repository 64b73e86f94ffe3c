"""ftrace text: tracefs ``trace`` / ``trace_pipe`` and ``trace-cmd report``.

One regular expression covers the tracefs layouts (with or without the tgid
column of ``options/record-tgid``, with or without the irq-info flags
column) and ``trace-cmd report`` (instance-name prefix, no flags, ``-R`` raw
fields); :func:`parse_line` returns the event or a marker, never raises.
"""

from __future__ import annotations

import re

from .. import events as EV

_LINE = re.compile(
    r"^(?:(?P<inst>[\w.+-]{1,64}):\s+)?\s*(?P<task>\S.*?)-(?P<tpid>\d+)\s+"
    r"(?:\(\s*(?P<tgid>[\d-]+)\)\s+)?\[(?P<cpu>\d{1,5})\]\s+(?:(?P<flags>[\w.]{4,6})\s+)?"
    r"(?P<ts>\d+(?:\.\d+)?):\s+(?:(?P<sys>\w+):)?(?P<event>\w+):\s*(?P<fields>.*?)\s*$")
_ENTRIES = re.compile(r"^#\s*entries-in-buffer/entries-written:\s*(?P<inbuf>\d+)/(?P<written>\d+)")
_LOST = re.compile(r"CPU:?\s*(?P<cpu>\d+)\s*\[(?:LOST (?P<n>\d+) EVENTS|(?P<n2>\d+ )?EVENTS DROPPED)\]")
_STARTED = re.compile(r"^#{3,}\s*CPU (?P<cpu>\d+) buffer started\s*#{3,}")
_CPUS = re.compile(r"^cpus=(?P<n>\d+)\s*$")

#: fields each event can carry, in tracefs and ``trace-cmd report -R`` spelling (the vocabulary's)
KEYS = EV.ftrace_fields()
EVENTS = frozenset(KEYS)
MAX_LINE = 8192
_KEYRX = {ev: re.compile(r"(?:^|(?<=\s))(" + "|".join(sorted(map(re.escape, ks), key=len, reverse=True))
                         + r")[=:]") for ev, ks in KEYS.items()}
_NUM = re.compile(r"^(-?\d+)(?:kB)?$")

_RSS = {"total-vm": "total_vm_kb", "total_vm": "total_vm_kb", "anon-rss": "anon_rss_kb",
        "anon_rss": "anon_rss_kb", "file-rss": "file_rss_kb", "file_rss": "file_rss_kb",
        "shmem-rss": "shmem_rss_kb", "shmem_rss": "shmem_rss_kb", "pgtables": "pgtables_kb"}


def split_fields(event: str, text: str) -> dict[str, str] | None:
    """``key=value`` / ``key:value`` pairs of a known event (values may hold spaces)."""
    rx = _KEYRX[event]
    ms = list(rx.finditer(text))
    if not ms or ms[0].start() != 0:
        return None
    out = {}
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(text)
        out[m[1]] = text[m.end():end].rstrip()
    return out


def _num(v):
    if v is None:
        return None
    m = _NUM.match(v)
    return int(m[1]) if m else None


class Marker:
    """A non-event line of an ftrace file that matters (lost events, header)."""

    __slots__ = ("kind", "detail", "n")

    def __init__(self, kind, detail, n=None):
        self.kind, self.detail, self.n = kind, detail, n


_SUSPEND = re.compile(r"^(?P<action>\w+)\[(?P<val>-?\d+)\]\s+(?P<state>begin|end)$")


def _suspend_resume(m):
    """``power:suspend_resume``: ``TP_printk("%s[%u] %s", action, val, start ? "begin" : "end")``
    (include/trace/events/power.h).  No pid: the phase is the system's; the
    detail says ``freeze_processes begin`` and so on."""
    x = _SUSPEND.match(m["fields"].strip())
    if not x:
        return ("?" + EV.SUSPEND_RESUME, m)
    f = {"task": m["task"], "task_pid": int(m["tpid"]), "cpu": int(m["cpu"]), "ts_text": m["ts"],
         "instance": m["inst"], "flags": m["flags"], "pid": None,
         "tgid": int(m["tgid"]) if m["tgid"] and m["tgid"].isdigit() else None,
         "detail": f"{x['action']} {x['state']}", "order": int(x["val"])}
    return EV.SUSPEND_RESUME, f


def parse_line(line: str):
    """Return ``(event_name, fields)`` for an OOM-relevant event, a :class:`Marker`,
    ``"other"`` for a well-formed event line of another event, or ``None``."""
    s = line.rstrip("\r\n")
    if len(s) > MAX_LINE:   # a trace event is printed from one ring-buffer page
        return None
    if s.startswith("#"):
        m = _ENTRIES.match(s)
        if m:
            inbuf, written = int(m["inbuf"]), int(m["written"])
            if inbuf < written:
                return Marker("lost_events", f"entries-in-buffer {inbuf} < entries-written {written}",
                              written - inbuf)
            return Marker("header", s)
        m = _STARTED.match(s)
        if m:
            return Marker("lost_events", f"CPU {m['cpu']} buffer started (older events overwritten)")
        return Marker("header", s)
    if "LOST" in s or "DROPPED" in s:
        m = _LOST.search(s)
        if m:
            n = m["n"] or (m["n2"] or "").strip() or None
            return Marker("lost_events", m[0], int(n) if n else None)
    m = _LINE.match(s)
    if not m:
        if _CPUS.match(s):
            return Marker("header", s)
        return None
    ev = m["event"]
    if ev not in EVENTS:
        return "other"
    if ev == EV.SUSPEND_RESUME:
        return _suspend_resume(m)
    raw = split_fields(ev, m["fields"])
    if raw is None:
        return ("?" + ev, m)
    f = {"task": m["task"], "task_pid": int(m["tpid"]), "cpu": int(m["cpu"]), "ts_text": m["ts"],
         "instance": m["inst"], "flags": m["flags"],
         "tgid": int(m["tgid"]) if m["tgid"] and m["tgid"].isdigit() else None}
    f["pid"] = _num(raw.get("pid"))
    if "comm" in raw:
        f["comm"] = raw["comm"]
    if ev == EV.MARK_VICTIM:
        for k, col in _RSS.items():
            if k in raw:
                f[col] = _num(raw[k])
        f["uid"] = _num(raw.get("uid"))
        f["oom_score_adj"] = _num(raw.get("oom_score_adj"))
    elif ev == EV.OOM_SCORE_ADJ_UPDATE:
        f["oom_score_adj"] = _num(raw.get("oom_score_adj"))
    elif ev == EV.SIGNAL_GENERATE:
        f["sig"] = _num(raw.get("sig"))
        f["detail"] = f"code={raw.get('code')} grp={raw.get('grp', raw.get('group'))} res={raw.get('res', raw.get('result'))}"
        f["code"] = _num(raw.get("code"))
    elif ev == EV.SCHED_PROCESS_EXIT:
        gd = raw.get("group_dead")
        f["group_dead"] = None if gd is None else gd.strip() in ("true", "1")
    elif ev in (EV.RECLAIM_RETRY_ZONE, EV.COMPACT_RETRY):
        f["order"] = _num(raw.get("order"))
        f["detail"] = " ".join(f"{k}={v.strip()}" for k, v in raw.items())
    if f["pid"] is None and ev not in (EV.RECLAIM_RETRY_ZONE, EV.COMPACT_RETRY):
        return ("?" + ev, m)
    return ev, f
