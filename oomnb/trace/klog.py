"""Kernel-log lines: the line prefixes (dmesg, journalctl, syslog, console,
raw ``/dev/kmsg`` records) and the OOM messages inside them.

Two layers, both pure functions of one line:

* :func:`split_prefix` takes a kernel-log line in any of the supported
  renderings and returns its timestamp (with its clock domain), wall-clock
  time, level, printk caller id, syslog identifier and the bare message;
* :func:`classify` takes a bare kernel message and recognises the OOM
  killer's and oom_reaper's messages of every version from 2.6 to 6.x
  (the printk format strings of mm/oom_kill.c: dump_header, oom_kill_process,
  __oom_kill_process, oom_reap_task, __oom_reap_task_mm, dump_tasks, in
  v2.6 .. 6.18 trees).

Nothing here raises on any input: unknown lines give ``None``.
"""

from __future__ import annotations

import calendar
import functools
import json
import re

from .. import events as EV

MONTHS_C = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

# ---------------------------------------------------------------------------
# prefixes

_KMSG = re.compile(r"^(?P<prio>\d{1,4}),(?P<seq>\d+),(?P<usec>\d+),(?P<flags>[^,;]*)(?:,[^;]*)?;(?P<msg>.*)$")
_RAWLEVEL = re.compile(r"^<(?P<level>\d{1,4})>")
_XLEVEL = re.compile(r"^(?P<fac>[a-z]{2,8})\s*:(?P<lvl>[a-z]{3,7})\s*:\s?")
_BRACKET = re.compile(
    r"^\[\s*(?P<s>\d+)\.(?P<us>\d+)(?:\s*<\s*[\d.]+>)?\s*\](?:\[\s*(?P<caller>[TC]\d+)\s*\])?\s?")
_REL = re.compile(r"^\[\s*\+\s*(?P<d>\d+\.\d+)\s*\]\s?")
_RELHDR = re.compile(r"^\[(?P<mon>[A-Za-z]{3})(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d)\]\s?")
_CTIME = re.compile(   # the month may be "11月" (zh, ja) or "11월" (ko)
    r"^\[(?P<wd>[^\W\d_]{1,12}\.?) +(?P<mon>\d{0,2}[^\W\d_]{1,12}\.?) +(?P<day>\d{1,2}) "
    r"(?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d) (?P<Y>\d{4})\]\s?")
_ISO = re.compile(
    r"^(?P<Y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[T ](?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d\d:?\d\d)?\s")
_SYSDATE = re.compile(
    r"^(?P<mon>[^\W\d_]{3,12}\.?) +(?P<day>\d{1,2}) (?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)(?:\.(?P<frac>\d{1,9}))?\s")
_HOSTIDENT = re.compile(r"^(?P<host>\S+) (?P<ident>[^\s:\[]+)(?:\[(?P<ipid>\d+)\])?: ?")
_ANYBRACKET = re.compile(r"\[\s*(?P<s>\d+)\.(?P<us>\d{6})\](?:\[\s*(?P<caller>[TC]\d+)\s*\])?\s?")
_LINENO = re.compile(r"^\s*\d{1,7}(?:[:|.)]\s*|\s+)(?=\S)")
QUOTE = re.compile(r"^(?:[ \t]*>)+[ \t]?")

LEVELS = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"]


class Prefix:
    """What the rendering of one kernel-log line says besides the message."""

    __slots__ = ("style", "ts", "clock", "wall", "wall_s", "level", "caller", "ident", "host", "msg")

    def __init__(self, style, msg, ts=None, clock="none", wall=None, wall_s=None, level=None,
                 caller=None, ident=None, host=None):
        self.style, self.msg, self.ts, self.clock = style, msg, ts, clock
        self.wall, self.wall_s, self.level, self.caller = wall, wall_s, level, caller
        self.ident, self.host = ident, host

    def __repr__(self):  # pragma: no cover - debugging aid
        return f"Prefix({self.style!r}, ts={self.ts!r}, clock={self.clock!r}, wall={self.wall!r}, msg={self.msg!r})"


def month_number(name: str, months: list[str] | None = None) -> int | None:
    """1-12 for a month name: ``months`` (the log's locale, in order), the C
    names, else the names of the locales in :data:`LOCALES` (CLDR, via babel)."""
    n = name.strip().rstrip(".").lower()
    for table in ([m.lower().rstrip(".") for m in months] if months else [], MONTHS_C):
        for i, m in enumerate(table):
            if m and (n == m or (len(n) >= 3 and m.startswith(n)) or (len(m) >= 3 and n.startswith(m))):
                return i + 1
    return _locale_month(n)


#: locales whose month names ``dmesg -T``, syslog and journal lines are read in
#: (besides C); a name that means different months in two of them is not used
LOCALES = ("fr", "pt", "pt_PT", "es", "it", "de", "nl", "sv", "da", "nb", "fi", "pl", "cs", "sk", "ru",
           "uk", "tr", "ro", "hu", "el", "zh", "zh_Hant", "ja", "ko", "ca", "id", "vi")


#: abbreviated month names ``dmesg -T`` prints (strftime ``%b``) that CLDR does not
#: have: glibc's localedata/locales/cs_CZ ``abmon`` has "čen" and "čec" for
#: June and July (CLDR: "čvn", "čvc")
GLIBC_MONTHS = {"čen": 6, "čec": 7}


@functools.lru_cache(maxsize=1)
def _locale_months() -> dict[str, int]:
    try:
        from babel import Locale
    except ImportError:   # pragma: no cover - babel is a dependency
        return {}
    seen: dict[str, set[int]] = {}
    for loc in LOCALES:
        try:
            L = Locale.parse(loc)
        except Exception:  # noqa: BLE001 - an unknown locale in an old babel
            continue
        for ctx in ("format", "stand-alone"):
            for width in ("abbreviated", "wide"):
                for i, m in L.months[ctx][width].items():
                    key = m.strip().rstrip(".").lower()
                    if key:
                        seen.setdefault(key, set()).add(int(i))
    for key, i in GLIBC_MONTHS.items():
        seen.setdefault(key, set()).add(i)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def _locale_month(n: str) -> int | None:
    if not n:
        return None
    table = _locale_months()
    if n in table:
        return table[n]
    if len(n) < 3:
        return None
    got = {mo for k, mo in table.items() if len(k) >= 3 and (k.startswith(n) or n.startswith(k))}
    return got.pop() if len(got) == 1 else None


def _wall(Y, mo, d, H, M, S, frac="", tz=None):
    try:
        secs = calendar.timegm((int(Y), int(mo), int(d), int(H), int(M), int(S), 0, 0, 0))
    except (ValueError, OverflowError):
        return None, None
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(H) < 24 and int(M) < 60 and int(S) < 61):
        return None, None
    f = f".{frac}" if frac else ""
    z = ""
    if tz:
        if tz == "Z":
            z = "+00:00"
        else:
            t = tz.replace(":", "")
            z = f"{t[:3]}:{t[3:]}"
            sign = 1 if t[0] == "+" else -1
            secs -= sign * (int(t[1:3]) * 3600 + int(t[3:5]) * 60)
    text = f"{int(Y):04d}-{int(mo):02d}-{int(d):02d}T{H}:{M}:{S}{f}{z}"
    return text, secs + (float("0." + frac) if frac else 0.0)


def _kernel_tail(p: Prefix, rest: str) -> Prefix:
    """A syslog/journal line's message may carry the printk timestamp inside."""
    m = _BRACKET.match(rest)
    if m:
        p.ts = float(f"{m['s']}.{m['us']}")
        p.clock = "printk"
        p.caller = m["caller"]
        rest = rest[m.end():]
    p.msg = rest
    return p


def split_prefix(line: str, *, months: list[str] | None = None, year: int | None = None) -> Prefix:
    """Split one kernel-log line into its prefix fields and the bare message.

    Never raises; an unrecognised rendering gives style ``plain`` (the whole
    stripped line is the message, no timestamp).
    """
    s = line.rstrip("\r\n")
    s = QUOTE.sub("", s, count=1) if s[:1] in (">", " ", "\t") else s
    p = _split(s, months, year)
    if p.style == "plain":
        m = _LINENO.match(s)
        if m:
            q = _split(s[m.end():], months, year)
            if q.style != "plain":
                q.style = "numbered-" + q.style
                return q
    return p


def _split(s: str, months, year) -> Prefix:
    st = s.lstrip()
    if not st:
        return Prefix("blank", "")
    c = st[0]
    if c.isdigit():
        m = _KMSG.match(st)
        if m:
            prio = int(m["prio"])
            u = m["usec"].rjust(7, "0")
            return Prefix("kmsg", m["msg"], ts=float(f"{u[:-6]}.{u[-6:]}"), clock="printk",
                          level=LEVELS[prio & 7])
        m = _ISO.match(st)
        if m:
            wall, wall_s = _wall(m["Y"], m["mo"], m["d"], m["H"], m["M"], m["S"], m["frac"] or "", m["tz"])
            rest = st[m.end():]
            h = _HOSTIDENT.match(rest)
            if h and h["ident"] != "kernel" and " " not in h["ident"] and _BRACKET.match(rest) is None:
                # "host ident: msg" (syslog RFC 3339 / journalctl short-iso)
                p = Prefix("syslog-iso", rest[h.end():], wall=wall, wall_s=wall_s, ident=h["ident"],
                           host=h["host"])
                if wall_s is not None:
                    p.ts, p.clock = wall_s, "wall"
                return p
            if h and h["ident"] == "kernel":
                p = Prefix("syslog-iso", "", wall=wall, wall_s=wall_s, ident="kernel", host=h["host"])
                if wall_s is not None:
                    p.ts, p.clock = wall_s, "wall"
                return _kernel_tail(p, rest[h.end():])
            p = Prefix("dmesg-iso", rest, wall=wall, wall_s=wall_s)
            if wall_s is not None:
                p.ts, p.clock = wall_s, "wall"
            return _kernel_tail(p, rest) if _BRACKET.match(rest) else p
    if c == "<":
        m = _RAWLEVEL.match(st)
        if m:
            q = _split(st[m.end():], months, year)
            q.style = "dmesg-raw" if q.style == "dmesg" else "raw-" + q.style
            lv = int(m["level"])
            q.level = LEVELS[lv & 7]
            return q
    if c == "[":
        m = _BRACKET.match(st)
        if m:
            return Prefix("dmesg", st[m.end():], ts=float(f"{m['s']}.{m['us']}"),
                          clock="printk", caller=m["caller"])
        m = _REL.match(st)
        if m:
            return Prefix("dmesg-reltime", st[m.end():], ts=float(m["d"]), clock="delta")
        m = _CTIME.match(st)
        if m:
            mo = month_number(m["mon"], months)
            if mo:
                wall, wall_s = _wall(m["Y"], mo, m["day"], m["H"], m["M"], m["S"])
                if wall is not None:
                    return Prefix("dmesg-ctime", st[m.end():], ts=wall_s, clock="wall", wall=wall,
                                  wall_s=wall_s)
        m = _RELHDR.match(st)
        if m:
            mo = month_number(m["mon"], months)
            if mo:
                y = year or 1970
                wall, wall_s = _wall(y, mo, m["day"], m["h"], m["m"], "00")
                if wall is not None:
                    return Prefix("dmesg-reltime", st[m.end():], ts=0.0, clock="delta-anchor",
                                  wall=wall if year else None, wall_s=wall_s if year else None)
    if c.isalpha():
        m = _XLEVEL.match(st)
        if m and m["lvl"] in LEVELS + ["warning", "emerg"]:
            q = _split(st[m.end():], months, year)
            q.style = "dmesg-x" if q.style == "dmesg" else "x-" + q.style
            q.level = m["lvl"]
            return q
        m = _SYSDATE.match(st)
        if m:
            mo = month_number(m["mon"], months)
            rest = st[m.end():]
            h = _HOSTIDENT.match(rest)
            if mo and h:
                y = year or 1970
                wall, wall_s = _wall(y, mo, m["day"], m["H"], m["M"], m["S"], m["frac"] or "")
                style = "journal-short-precise" if m["frac"] else "syslog"
                # without a year (--year) there is no wall time, only the order within the file:
                # a clock domain of its own ("wall-noyear"), never a partial timestamp
                p = Prefix(style, rest[h.end():], wall=wall if year else None, wall_s=wall_s if year else None,
                           ident=h["ident"], host=h["host"])
                if wall_s is not None:
                    p.ts, p.clock = wall_s, "wall" if year else "wall-noyear"
                if h["ident"] == "kernel":
                    return _kernel_tail(p, rest[h.end():])
                return p
    if c == "{":
        p = _journal_json(st)
        if p is not None:
            return p
    # a console or other prefix before a printk timestamp
    m = _ANYBRACKET.search(st, 0, 160)
    if m and m.start() > 0:
        return Prefix("console", st[m.end():], ts=float(f"{m['s']}.{m['us']}"), clock="printk",
                      caller=m["caller"])
    return Prefix("plain", st)


def _journal_json(st: str) -> Prefix | None:
    try:
        obj = json.loads(st)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or "MESSAGE" not in obj:
        return None
    msg = obj["MESSAGE"]
    if isinstance(msg, list):   # journalctl writes non-UTF-8 messages as byte arrays
        try:
            msg = bytes(int(x) & 0xFF for x in msg).decode("utf-8", "replace")
        except (TypeError, ValueError, OverflowError):
            return None
    if not isinstance(msg, str):
        return None
    ident = obj.get("SYSLOG_IDENTIFIER") or ("kernel" if obj.get("_TRANSPORT") == "kernel" else None)
    p = Prefix("journal-json", msg, ident=ident if isinstance(ident, str) else None,
               host=obj.get("_HOSTNAME") if isinstance(obj.get("_HOSTNAME"), str) else None)
    try:
        rt = int(obj.get("__REALTIME_TIMESTAMP"))
        p.wall_s = rt / 1e6
        import datetime as _dt
        p.wall = _dt.datetime.fromtimestamp(rt // 10**6, _dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S") + f".{rt % 10**6:06d}+00:00"
        p.ts, p.clock = p.wall_s, "wall"
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    src = obj.get("_SOURCE_MONOTONIC_TIMESTAMP")
    if p.ident == "kernel" and src is not None:
        try:   # for kernel records journald stores the printk timestamp here
            u = str(int(src)).rjust(7, "0")
            p.ts, p.clock = float(f"{u[:-6]}.{u[-6:]}"), "printk"
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        pr = obj.get("PRIORITY")
        if pr is not None:
            p.level = LEVELS[int(pr) & 7]
    except (TypeError, ValueError, OverflowError):
        pass
    return p


# ---------------------------------------------------------------------------
# messages

_CTX = r"(?:(?P<ctx>[A-Za-z][\w ()/-]{0,60}?): )?"
_KILLED = re.compile(
    _CTX + r"Killed process (?P<pid>\d+)"
    r"(?:, UID (?P<uid6>\d+), \((?P<comm6>.*)\)|\s\((?P<comm>.*)\)(?:, UID (?P<uid7>\d+),)?)"
    r"(?P<rest>(?:,?\s*(?:total-vm|vsz):.*?)?)\.?\s*$")
_KILLED_BARE = re.compile(_CTX + r"Killed process (?P<pid>\d+)(?P<cut>\D.{0,3}|)$")
_KILL_FIELDS = re.compile(r"([a-z-]+|UID|pgtables|oom_score_adj)[:]\s?(-?\d+)(kB)?")
_KILL_FULL = re.compile(
    r"^,?\s*(?:total-vm|vsz):\d+kB,\s*anon-rss:\d+kB,\s*file-rss:\d+kB(?:,\s*shmem-rss:\d+kB)?"
    r"(?:,\s*UID:\d+\s+pgtables:\d+kB\s+oom_score_adj:-?\d+)?\s*$")
_DECISION = re.compile(
    _CTX + r"[Kk]ill process (?P<pid>\d+) \((?P<comm>.*)\) score (?P<score>-?\d+) or (?:sacrifice child|a child)\s*$")
_REAPED = re.compile(
    r"oom_reaper: reaped process (?P<pid>\d+) \((?P<comm>.*)\),\s*now anon-rss:(?P<anon>\d+)kB"
    r"(?:,\s*file-rss:(?P<file>\d+)kB)?(?:,\s*shmem-rss:(?P<shmem>\d+)kB)?\s*$")
_UNABLE = re.compile(r"oom_reaper: unable to reap pid:(?P<pid>\d+) \((?P<comm>.*)\)\s*$")
_GIVEUP = re.compile(r"oom_reaper: giving up pid:(?P<pid>\d+) \((?P<comm>.*)\)\s*$")
_HEADER = re.compile(
    r"^(?P<comm>.*?) invoked oom-killer: gfp_mask=(?P<gfp>0x[0-9a-fA-F]+)(?:\((?P<flags>[^)]*)\))?,\s*"
    r"(?:nodemask=(?P<nodemask>[^,]*),\s*)?order=(?P<order>-?\d+),\s*(?:oom_adj=(?P<oom_adj>-?\d+),\s*)?"
    r"oom_score_adj=(?P<adj>-?\d+)\s*$")
_SUMMARY = re.compile(
    r"oom-kill:constraint=(?P<constraint>[A-Z_]+),nodemask=(?P<nodemask>.*?),cpuset=(?P<cpuset>.*?),"
    r"mems_allowed=(?P<mems>.*?),(?:oom_memcg=(?P<oom_memcg>.*?),)?(?:task_memcg=(?P<task_memcg>.*?),)?"
    r"(?:global_oom,)?task=(?P<comm>.*),pid=(?P<pid>\d+),uid=(?P<uid>\d+)\s*$")
_PINNED = re.compile(r"oom killer (?P<pid>\d+) \((?P<comm>.*)\) has mm pinned by (?P<pid2>\d+) \((?P<comm2>.*)\)\s*$")
_EXITING = re.compile(_CTX + r"OOM victim (?P<pid>\d+) \((?P<comm>.*)\) is already exiting\. Skip killing the task\s*$")
_NOKILL = re.compile(r"Out of memory and no killable processes")
_DEADLOCK = re.compile(r"System is deadlocked on memory")
_TASKS = re.compile(r"^\s*Tasks state \(memory values in pages\):\s*$")
_TASKCOLS = re.compile(r"^\s*\[\s*pid\s*\]\s+uid\s+tgid\s+(?P<cols>.*?)\s+name\s*$")
_TASKROW = re.compile(r"^\s*\[\s*(?P<pid>\d+)\]\s+(?P<nums>-?\d+(?:\s+-?\d+)*)\s+(?P<name>\S.*?)\s*$")

_USERSPACE = re.compile(r"(?i)\b(earlyoom|systemd-oomd|oomd|lowmemorykiller|lmkd|nohang|oom-killer-daemon)\b")
_US_PID = re.compile(r"(?:process|pid)[ :=]?(\d+)|'[^']*' \((\d+)\)")

#: words that make a message "look like OOM evidence": a message containing
#: one of them that :func:`classify` does not recognise is counted as unparsed.
OOM_LOOKING = re.compile(
    r"Killed process|[Kk]ill process|invoked oom-killer|oom_reaper:|oom-kill:|OOM victim|"
    r"[Oo]ut of memory: |no killable processes|has mm pinned")

MAX_MESSAGE = 4096

COLS_6X = ["total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes", "swapents", "oom_score_adj"]
COLS_419 = ["total_vm", "rss", "pgtables_bytes", "swapents", "oom_score_adj"]
COLS_OLD = ["total_vm", "rss", "nr_ptes", "nr_pmds", "swapents", "oom_score_adj"]


def _int(x):
    return int(x) if x not in (None, "") else None


def _comm(c):
    return c if c is None else c


def classify(msg: str, *, task_cols: list[str] | None = None, ident: str | None = None):
    """Recognise an OOM message. Returns ``(kind, fields)`` or ``None``.

    ``fields`` has the event-table columns the message carries. ``kind`` is
    one of ``oom_invoked``, ``kill_decision``, ``killed``, ``oom_kill_summary``,
    ``reaped``, ``reap_unable``, ``reap_giving_up``, ``mm_pinned``,
    ``already_exiting``, ``no_killable``, ``task_table``, ``task_columns``,
    ``task_row``, ``userspace_kill``. A message ending in a cut-off field
    (``…``, ``...`` or a dangling separator) is recognised with the fields it
    has and ``truncated`` set.
    """
    if len(msg) > MAX_MESSAGE:   # printk records are at most ~1 KiB; bound the regex work
        msg = msg[:MAX_MESSAGE]
    if ident is not None and ident != "kernel":
        if _USERSPACE.search(ident) or _USERSPACE.search(msg):
            return _userspace(msg, ident)
        return None
    m0 = msg.rstrip()
    truncated = False
    if m0.endswith("\u2026") or m0.endswith("..."):
        truncated = True
        m0 = m0.rstrip("\u2026").rstrip(".")
    if "Killed process" in m0:
        if _USERSPACE.search(m0) and "Memory cgroup" not in m0 and "Out of memory" not in m0:
            return _userspace(m0, ident)
        m = _KILLED.search(m0)
        if m:
            rest = m["rest"]
            f = {"pid": int(m["pid"]), "comm": m["comm"] if m["comm"] is not None else m["comm6"],
                 "context": m["ctx"], "uid": _int(m["uid6"] or m["uid7"])}
            for k, v, _ in _KILL_FIELDS.findall(rest):
                col = {"total-vm": "total_vm_kb", "vsz": "total_vm_kb", "anon-rss": "anon_rss_kb", "file-rss": "file_rss_kb",
                       "shmem-rss": "shmem_rss_kb", "UID": "uid", "pgtables": "pgtables_kb",
                       "oom_score_adj": "oom_score_adj"}.get(k)
                if col:
                    f[col] = int(v)
            if (not rest.strip() and not m0.endswith(").")) or (rest.strip() and not _KILL_FULL.match(rest)):
                truncated = True   # every kernel since 2.6.3x prints total-vm; older ones end in ")."
            if f["comm"] is not None and ")" not in m0[m.end("pid"):]:
                truncated = True
            f["truncated"] = truncated or None
            return EV.KILLED, f
        m = _KILLED_BARE.search(m0)
        if m:
            return EV.KILLED, {"pid": int(m["pid"]), "context": m["ctx"], "truncated": True}
        return None
    if "ill process" in m0:
        m = _DECISION.search(m0)
        if m:
            return EV.KILL_DECISION, {"pid": int(m["pid"]), "comm": m["comm"], "context": m["ctx"],
                                     "score": int(m["score"])}
        return None
    if "oom_reaper:" in m0:
        for kind, rx in ((EV.REAPED, _REAPED), (EV.REAP_UNABLE_LINE, _UNABLE), (EV.REAP_GIVING_UP_LINE, _GIVEUP)):
            m = rx.search(m0)
            if m:
                f = {"pid": int(m["pid"]), "comm": m["comm"]}
                if kind == EV.REAPED:
                    f.update(anon_rss_kb=int(m["anon"]), file_rss_kb=_int(m["file"]),
                             shmem_rss_kb=_int(m["shmem"]))
                    if m["shmem"] is None:
                        f["truncated"] = True if truncated or m0.rstrip().endswith(",") else None
                return kind, f
        return None
    if "invoked oom-killer" in m0:
        m = _HEADER.search(m0)
        if m:
            return EV.OOM_INVOKED, {"comm": m["comm"], "gfp_mask": m["gfp"], "gfp_flags": m["flags"],
                                   "nodemask": m["nodemask"], "order": int(m["order"]),
                                   "oom_score_adj": int(m["adj"])}
        return None
    if "oom-kill:" in m0:
        m = _SUMMARY.search(m0)
        if m:
            return EV.OOM_KILL_SUMMARY, {"pid": int(m["pid"]), "comm": m["comm"], "uid": int(m["uid"]),
                                        "constraint": m["constraint"], "nodemask": m["nodemask"],
                                        "oom_memcg": m["oom_memcg"], "task_memcg": m["task_memcg"],
                                        "global_oom": "global_oom," in m0 or None}
        return None
    if "has mm pinned" in m0:
        m = _PINNED.search(m0)
        if m:
            return EV.MM_PINNED, {"pid": int(m["pid"]), "comm": m["comm"],
                                 "detail": f"pinned by {m['pid2']} ({m['comm2']})"}
        return None
    if "OOM victim" in m0:
        m = _EXITING.search(m0)
        if m:
            return EV.ALREADY_EXITING, {"pid": int(m["pid"]), "comm": m["comm"], "context": m["ctx"]}
        return None
    if _NOKILL.search(m0) or _DEADLOCK.search(m0):
        return EV.NO_KILLABLE, {}
    if m0.lstrip().startswith("["):
        m = _TASKCOLS.match(m0)
        if m:
            return EV.TASK_COLUMNS, {"detail": " ".join(m["cols"].split())}
        m = _TASKROW.match(m0)
        if m:
            nums = [int(x) for x in m["nums"].split()]
            cols = task_cols
            if cols is None or len(cols) + 2 != len(nums):
                cols = {10: COLS_6X, 7: COLS_419, 8: COLS_OLD}.get(len(nums))
            if cols is None or len(nums) < 3:
                return None
            vals = dict(zip(["uid", "tgid"] + cols, nums))
            pages = 4  # kB per page: the table is in pages (x86: 4 kB)
            f = {"pid": int(m["pid"]), "comm": m["name"], "uid": vals.get("uid"),
                 "oom_score_adj": vals.get("oom_score_adj"),
                 "total_vm_kb": vals["total_vm"] * pages if "total_vm" in vals else None,
                 "anon_rss_kb": vals["rss_anon"] * pages if "rss_anon" in vals else None,
                 "file_rss_kb": vals["rss_file"] * pages if "rss_file" in vals else None,
                 "shmem_rss_kb": vals["rss_shmem"] * pages if "rss_shmem" in vals else None,
                 "pgtables_kb": vals["pgtables_bytes"] // 1024 if "pgtables_bytes" in vals else None,
                 "detail": " ".join(f"{k}={v}" for k, v in vals.items())}
            return EV.TASK_ROW, f
    if _TASKS.match(m0):
        return EV.TASK_TABLE, {}
    if _USERSPACE.search(m0) and re.search(r"(?i)kill", m0):
        return _userspace(m0, ident)
    return None


def _userspace(msg, ident):
    m = _USERSPACE.search(ident or "") or _USERSPACE.search(msg)
    p = _US_PID.search(msg)
    pid = None
    if p:
        pid = int(p[1] or p[2])
    return EV.USERSPACE_KILL, {"pid": pid, "detail": f"userspace killer {m[1] if m else ident}: not a kernel kill"}
