"""The 6.18 suspend window: the model's claim beside QEMU-booted kernels.

Since 59d4d36158ba ("mm/oom_kill: Thaw the entire OOM victim process",
6.18) ``kernel/freezer.c:freezing_slow_path`` exempts every thread of an OOM
victim (``tsk_is_oom_victim``) while ``mm/oom_kill.c:oom_victims`` still
counts only the TIF_MEMDIE thread. The model (``oomnb check``) says a victim
thread that does not hold TIF_MEMDIE can then run after
``oom_killer_disable()`` has returned (``suspend_exclusion[group]`` on
``dstate-thread+suspend``); the suspend-dstate runs (``oomnb collect
--scenario suspend-dstate``) say whether it did, per kernel. The other half
is what 6.18 was made for: a frozen sibling no longer keeps the victim from
exiting (``frozen_sibling_exit`` on ``cgroup-frozen+threads=2``; measured by
the frozen-victim runs with the refrigerator, v1 ``freezer.state``).

:data:`KERNELS` names, once, each kernel of the comparison: its model
version, its data sets and, for a candidate fix, its patch in ``patches/``.
Everything else (verdicts, counts, windows) is computed from the model and
the data.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import events as EV
from .collect.threads import frozen_victim_table, suspend_table, thread_exits

#: model scenario and property of each question
SUSPEND = ("dstate-thread+suspend", "suspend_exclusion[group]")
FROZEN = ("cgroup-frozen+threads=2", "frozen_sibling_exit")
#: the freezer of the frozen-victim runs the model's cgroup-frozen stands for
REFRIGERATOR = "v1 freezer.state"

ROOT = Path(__file__).resolve().parent.parent
PATCHES = ROOT / "patches"


@dataclass(frozen=True)
class Kernel:
    """One kernel of the comparison."""
    label: str                 # as the table and figures name it
    model: str                 # model version (oomnb.kernel.load_kernel name)
    data: tuple[str, ...] = ()  # data set directories under data/
    patch: str | None = None   # patches/NAME, applied to 6.18.35

    def paths(self) -> list[Path]:
        from .trace import data_dir
        return [data_dir() / d for d in self.data if (data_dir() / d).is_dir()]


KERNELS: tuple[Kernel, ...] = (
    Kernel("6.12", "v6.12", ("qemu2-cgroup2-linux6.12",)),
    Kernel("6.18", "v6.18", ("qemu2-cgroup2-linux6.18", "qemu2-cgroup1-linux6.18")),
    Kernel("6.18 + fix A", "v6.18+group-oom-victims",
           ("qemu2-cgroup2-linux6.18-group-oom-victims",),
           "0001-mm-oom-count-OOM-victims-per-thread-group.patch"),
    Kernel("6.18 + fix B", "v6.18+tif-exempt", ("qemu2-cgroup2-linux6.18-tif-exempt",),
           "0001-freezer-exempt-only-the-TIF_MEMDIE-thread.patch"),
)


def kernel(label: str) -> Kernel:
    for k in KERNELS:
        if k.label == label or k.model == label:
            return k
    raise KeyError(label)


# --- the model ---------------------------------------------------------------

def verdict(version: str, question: tuple[str, str]):
    from .checker.plots import result
    scenario, prop = question
    return result(version, scenario).verdicts[prop]


def counterexample(version: str = "v6.18"):
    """The shortest counterexample to ``suspend_exclusion[group]`` (steps)."""
    return verdict(version, SUSPEND).steps


def plot_counterexample(version: str = "v6.18"):
    from .checker.plots import plot_swimlane
    steps = counterexample(version)
    return plot_swimlane(steps, f"{version} {SUSPEND[1]}, {SUSPEND[0]}", bad_step=steps[-1].n)


# --- the real runs -------------------------------------------------------------

_KMSG = re.compile(r"^\d+,\d+,(\d+),[^;]*;(.*)$")
#: kernel log lines of kernel/power/process.c and mm/oom_kill.c the timeline shows
KMSG_MARKS = {"OOM killer disabled.": "oom_disabled", "OOM killer enabled.": "oom_enabled"}


def _printk_offset(meta: dict) -> float:
    """printk (local_clock) minus trace clock (CLOCK_MONOTONIC) of one run, from the collector's markers."""
    co = meta.get("clock_offset") or {}
    for k in ("start", "end", "kill_anchor"):
        if (co.get(k) or {}).get("offset_s") is not None:
            return co[k]["offset_s"]
    return 0.0


def kmsg_marks(run_dir) -> dict:
    """``{"oom_disabled": t, "oom_enabled": t}`` in seconds after ``mark_victim`` (trace clock)."""
    d = Path(run_dir)
    meta = json.loads((d / "meta.json").read_text())
    kill = thread_exits(d)["kill"]
    off = _printk_offset(meta)
    out: dict[str, float] = {}
    kmsg = d / "kmsg.txt"
    for line in (kmsg.read_text(errors="replace").splitlines() if kmsg.exists() else []):
        m = _KMSG.match(line)
        if m and m.group(2) in KMSG_MARKS and kill is not None:
            out.setdefault(KMSG_MARKS[m.group(2)], int(m.group(1)) / 1e6 - off - kill)
    return out


def windows(k: Kernel) -> pd.DataFrame:
    """One row per suspend-dstate run of ``k``: freeze_processes begin/end, "OOM killer disabled.",
    thaw_processes begin (all seconds after mark_victim), each victim thread's exit, and whether a victim
    thread exited inside the window (freeze_processes end to thaw_processes begin)."""
    paths = k.paths()
    t = suspend_table(paths) if paths else pd.DataFrame()
    rows = []
    for _, r in t.iterrows():
        d = next(p / r.run for p in paths if (p / r.run / "meta.json").exists()
                 and json.loads((p / r.run / "meta.json").read_text()).get("machine") == r.machine)
        x = thread_exits(d)
        ph = {p: t_ for t_, p in x["suspend_phases"]}
        first = (lambda name, edge: next((v for p, v in ph.items() if p.startswith(name) and p.endswith(edge)),
                                         None))
        rows.append({"kernel": k.label, "run": int(r.run.rsplit("-", 1)[1]), "device": r.device,
                     "freeze_begin": first("freeze_processes", " begin"), "freeze_end": r.freeze_end_after_kill_s,
                     **kmsg_marks(d), "thaw_begin": r.thaw_begin_after_kill_s,
                     "leader_exit": r.leader_exit_after_kill_s, "other_exit": r.other_exit_after_kill_s,
                     "exited_inside_window": r.victim_thread_exited_inside_window})
    return pd.DataFrame(rows).sort_values("run").reset_index(drop=True) if rows else pd.DataFrame()


def frozen_runs(k: Kernel) -> pd.DataFrame:
    """The frozen-victim runs of ``k`` (:func:`oomnb.collect.threads.frozen_victim_table`) with
    ``sibling_blocked_exit``: a thread exited only after the collector thawed the cgroup."""
    paths = k.paths()
    t = frozen_victim_table(paths) if paths else pd.DataFrame()
    if len(t):
        t = t.assign(sibling_blocked_exit=~t.whole_process_thawed_by_kill.astype(bool))
    return t


def _count(flags, what: str) -> str:
    flags = list(flags)
    return f"{sum(map(bool, flags))} of {len(flags)} runs" if flags else f"not run ({what})"


def _agree(v: str, flags) -> str:
    flags = list(flags)
    if not flags:
        return "-"
    seen = any(flags)
    if v == "VIOLATED":
        return "agree" if seen else f"not seen in {len(flags)}"
    return "DISAGREE" if seen else "agree"


def df_table() -> pd.DataFrame:
    """Per kernel: the model's verdict beside the measured result for (a) a victim thread ran (exited)
    inside the suspend window and (b) a frozen sibling blocked the victim's exit (refrigerator runs)."""
    rows = []
    for k in KERNELS:
        w, f = windows(k), frozen_runs(k)
        ran = list(w.exited_inside_window) if len(w) else []
        blocked = list(f[f.freezer == REFRIGERATOR].sibling_blocked_exit) if len(f) else []
        va, vb = verdict(k.model, SUSPEND).short, verdict(k.model, FROZEN).short
        rows.append({"kernel": k.label, "model version": k.model,
                     f"model {SUSPEND[1]}": va,
                     "measured: thread ran in window": _count(ran, "suspend-dstate"),
                     "(a)": _agree(va, ran),
                     f"model {FROZEN[1]}": vb,
                     "measured: frozen sibling blocked exit": _count(blocked, "frozen-victim v1"),
                     "(b)": _agree(vb, blocked)})
    return pd.DataFrame(rows).set_index("kernel")


# --- figures -------------------------------------------------------------------

def _ok(x) -> bool:
    return x is not None and x == x


PM_COLOR, WINDOW_COLOR, BAD_COLOR, THREAD_COLOR = "#CC79A7", "#F0E442", "#D55E00", "#0072B2"


def plot_windows(kernels=None):
    """The suspend-dstate runs as timelines, one panel per kernel side by side: seconds after
    ``mark_victim``; freeze_processes (bar), the window (band), "OOM killer disabled." (tick),
    thaw_processes (end of the band), the leader's exit (circle) and the reader thread's exit
    (diamond, red inside the window)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ks = [k for k in (kernels or KERNELS) if len(windows(k))]
    nrows = (len(ks) + 1) // 2
    heights = [max(len(windows(k)) for k in ks[2 * i:2 * i + 2]) for i in range(nrows)]
    fig = Figure(figsize=(7.2, 1.2 + 0.22 * sum(heights) + 0.5 * nrows))
    grid = fig.subplots(nrows, min(2, len(ks)), sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": heights})
    axes = [ax for row in grid for ax in row]
    for ax in axes[len(ks):]:
        ax.set_visible(False)
    for ax, k in zip(axes, ks):
        w = windows(k)
        for y, r in enumerate(w.itertuples()):
            if _ok(r.freeze_end) and _ok(r.thaw_begin):
                ax.barh(y, r.thaw_begin - r.freeze_end, left=r.freeze_end, height=0.7, color=WINDOW_COLOR,
                        alpha=0.6, lw=0)
            if _ok(r.freeze_begin) and _ok(r.freeze_end):
                ax.barh(y, max(r.freeze_end - r.freeze_begin, 0.05), left=r.freeze_begin, height=0.3,
                        color=PM_COLOR, lw=0)
            if _ok(getattr(r, "oom_disabled", None)):
                ax.plot([r.oom_disabled] * 2, [y - 0.4, y + 0.4], color="black", lw=1.2)
            ax.plot([r.leader_exit], [y], "o", color=THREAD_COLOR, ms=4)
            if _ok(r.other_exit):
                ax.plot([r.other_exit], [y], "D", ms=5, color=BAD_COLOR if r.exited_inside_window else THREAD_COLOR,
                        mec="black" if r.exited_inside_window else None)
        ax.set_yticks(range(len(w)))
        ax.set_yticklabels([f"{r.run} {str(r.device).replace('/dev/', '')}" for r in w.itertuples()], fontsize=7)
        ax.set_ylim(len(w) - 0.4, -0.6)
        ax.set_title(f"{k.label}: {int(w.exited_inside_window.sum())} of {len(w)} inside", fontsize=9)
    for ax in grid[-1]:
        ax.set_xlabel(f"seconds after {EV.MARK_VICTIM}")
    for row in grid:
        row[0].set_ylabel("run, device")
    fig.legend(handles=[Patch(color=PM_COLOR, label="freeze_processes"),
                        Patch(color=WINDOW_COLOR, alpha=0.6, label="window (to thaw_processes)"),
                        Line2D([], [], color="black", lw=1.2, label="OOM killer disabled."),
                        Line2D([], [], ls="", marker="o", color=THREAD_COLOR, label="leader exit"),
                        Line2D([], [], ls="", marker="D", color=THREAD_COLOR, label="reader thread exit"),
                        Line2D([], [], ls="", marker="D", color=BAD_COLOR, mec="black",
                               label="... inside the window")],
               loc="lower center", ncol=3, fontsize=7, frameon=False)
    h = fig.get_figheight()
    fig.subplots_adjust(bottom=1.1 / h, top=1 - 0.3 / h, wspace=0.25, hspace=0.45, left=0.1, right=0.98)
    return fig


# --- the writeup -----------------------------------------------------------------

def patch_text(name: str) -> str:
    return (PATCHES / name).read_text()


def patch_inline(name: str) -> str:
    """A patch for a plain-text post: its subject and diff, tabs shown as four spaces."""
    text = patch_text(name)
    subject = re.search(r"^Subject: \[PATCH\] (.*(?:\n .*)*)", text, re.M).group(1).replace("\n", "")
    diff = text[text.index("\ndiff --git") + 1:]
    diff = diff[:diff.rindex("\n-- \n")] if "\n-- \n" in diff else diff
    lines = [_hunk(l.expandtabs(4)) for l in diff.splitlines()]
    return subject + "\n\n" + "\n".join(lines)


def _hunk(line: str, width: int = 72) -> str:
    """A hunk header too wide for the post keeps only its function's name (git apply ignores that part)."""
    m = re.match(r"^(@@ [^@]+ @@) .*?(\w+)\(", line)
    return f"{m.group(1)} {m.group(2)}()" if m and len(line) > width else line


def _wrap(s: str) -> str:
    return "\n".join(textwrap.wrap(s, 72, break_on_hyphens=False))


def _range(vals) -> str:
    vals = [v for v in vals if _ok(v)]
    return f"{min(vals):.3f}-{max(vals):.3f} s" if vals else "-"


def _runs(flags) -> str:
    flags = list(flags)
    return f"{sum(map(bool, flags))}/{len(flags)}" if flags else "-"


def table_text() -> str:
    """Per kernel, as plain text: how long freeze_processes took and, model verdict / runs showing it,
    (a) a victim thread ran inside the window, (b) a frozen sibling blocked the victim's exit."""
    rows = [f"{'kernel':13s}{'freeze_processes':>17s}  {'(a) ran in window':>19s}  {'(b) sibling blocked':>19s}",
            f"{'':13s}{'(runs)':>17s}  {'model   runs':>19s}  {'model   runs':>19s}"]
    for k in KERNELS:
        w, f = windows(k), frozen_runs(k)
        ref = f[f.freezer == REFRIGERATOR] if len(f) else f
        fr = _range(w.freeze_end - w.freeze_begin) if len(w) else "-"
        a = f"{verdict(k.model, SUSPEND).short:8s}{_runs(w.exited_inside_window if len(w) else []):>5s}"
        b = f"{verdict(k.model, FROZEN).short:8s}{_runs(ref.sibling_blocked_exit if len(ref) else []):>5s}"
        rows.append(f"{k.label:13s}{fr:>17s}  {a:>19s}  {b:>19s}")
    return "\n".join(rows)


def headline_text() -> str:
    """The post's headline block: the claim, the measured result per kernel (computed), the fix inline."""
    k612, k618, fa, fb = KERNELS
    w618 = windows(k618)
    in618 = w618[w618.exited_inside_window]
    measured = [k for k in (fa, fb) if len(windows(k)) or len(frozen_runs(k))]
    parts = [_wrap(
        '59d4d36158ba ("mm/oom_kill: Thaw the entire OOM victim process") '
        "makes freezing_slow_path() exempt every thread of an OOM victim, "
        "while oom_victims, which oom_killer_disable() waits on, counts only "
        "the thread holding TIF_MEMDIE. The model says a victim thread "
        "without TIF_MEMDIE can then run after oom_killer_disable() has "
        f"returned ({SUSPEND[1]}: {verdict('v6.12', SUSPEND).short} in 6.12, "
        f"{verdict('v6.18', SUSPEND).short} in 6.18)."),
        "",
        _wrap(
            "We booted Debian's 6.12, a 6.18.35 stable build"
            + (" and 6.18.35 with each candidate fix below" if len(measured) == 2 else
               " and 6.18.35 with " + ", ".join(k.label.split("+ ")[-1] for k in measured) if measured else "")
            + " under QEMU, OOM-killed a two-thread process in its own memory "
            "cgroup while its second thread sat in a throttled O_DIRECT read, "
            "and ran the suspend test (pm_test=freezer); for (b), the victim's "
            "threads sat in a frozen v1 cgroup freezer when it was killed. "
            "Per kernel, the model's verdict and the runs that showed it:"),
        "",
        table_text(),
        "",
        _wrap(
            "On 6.12 freeze_processes() waits for the reader until its read "
            "returns and freezes it. On 6.18.35 freezing ends in milliseconds "
            "with the reader still in D, 'OOM killer disabled.' follows, and "
            "the reader exits inside the window wherever its read completes "
            "before the thaw"
            + (" (" + ", ".join(f"run {r.run}: {r.other_exit - r.freeze_end:.2f} s after freezing ended"
                                for r in in618.itertuples()) + ")" if len(in618) else "")
            + "; it is never frozen. 6.18.35 also does what it was made for: a "
              "frozen sibling no longer keeps the killed victim from exiting."),
        "",
        _wrap(
            "Two candidate fixes: (A) count oom_victims per thread group and "
            "drop the count when the group's last thread exits; (B) keep the "
            "whole-group thaw but exempt only the TIF_MEMDIE thread from "
            "freezing, which reopens (b)."),
    ]
    for k in measured:
        w = windows(k)
        if len(w):
            before = w.other_exit <= w.oom_disabled
            parts += ["", _wrap(
                f"With {k.label.split('+ ')[-1]}, the reader exited before 'OOM killer disabled.' in "
                f"{_runs(before)} suspend runs (freeze_processes {_range(w.freeze_end - w.freeze_begin)}: "
                "oom_killer_disable() waits for the whole victim)." if k.model == fa.model else
                f"With {k.label.split('+ ')[-1]}, freeze_processes took "
                f"{_range(w.freeze_end - w.freeze_begin)} and the reader exited before "
                f"'OOM killer disabled.' in {_runs(before)} suspend runs.")]
    if not measured:
        parts += ["", _wrap("The patched kernels have not been run yet; the patches apply to "
                            "6.18.35 and patches/build-kernel.sh builds them.")]
    parts += ["", "Fix A, against 6.18.35:", "", patch_inline(fa.patch)]
    return "\n".join(parts)


def reproduce_text() -> str:
    """How to get the real runs and a patched kernel (commands)."""
    fa = KERNELS[2]
    return "\n".join([
        _wrap("The suspend runs (QEMU and virtme-ng on the host; K is "
              "debian:6.12, the 6.18.35 bzImage or a patched one, and S its "
              "data set under data/):"),
        "",
        "  oomnb collect --kernel-image K --cgroup 2 --out S \\",
        "      --scenario suspend-dstate --virtio-disk \\",
        "      --dstate-bytes 1M --runs 3 --limit 128M",
        "  oomnb collect --kernel-image K --cgroup 2 --out S \\",
        "      --freezer 1 --scenario frozen-victim --threads 1 \\",
        "      --runs 2 --limit 128M",
        "",
        _wrap("A patched 6.18.35 (16-25 minutes on two CPUs; another "
              "patch with the same OUT rebuilds in under a minute):"),
        "",
        f"  P=patches/{fa.patch}",
        "  patches/build-kernel.sh --patch $P --out OUT \\",
        "      --tree LINUX-6.18.35 --config CONFIG \\",
        "      --localversion -group-oom-victims",
        "  K=OUT/bzImage S=data/" + fa.data[0],
    ])


# --- the patches -------------------------------------------------------------------

#: the files a candidate fix may touch (the tree itself is not part of the project)
PATCH_PATHS = re.compile(r"^(mm/oom_kill\.c|kernel/freezer\.c|kernel/exit\.c|include/linux/[\w/.-]+\.h)$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def check_patch(text: str) -> list[str]:
    """Problems that keep ``text`` from being a ``git format-patch``-like kernel patch: the mail headers,
    a changelog, Signed-off-by absent or marked as a placeholder, a diffstat that agrees with the diff,
    only :data:`PATCH_PATHS`, and hunks whose line counts agree with their headers."""
    bad = []
    lines = text.splitlines()
    head = text.split("\n\n", 1)[0]
    for h in ("From ", "From: ", "Date: ", "Subject: [PATCH"):
        if not re.search(rf"^{re.escape(h)}", head, re.M):
            bad.append(f"header {h.strip()!r} missing")
    if "\n---\n" not in text or "\ndiff --git " not in text:
        return bad + ["no '---' separator or no diff"]
    log, rest = text.split("\n\n", 1)[1].split("\n---\n", 1)
    if len([l for l in log.splitlines() if l.strip()]) < 5:
        bad.append("changelog shorter than five lines")
    for l in log.splitlines():
        if len(l) > 75:
            bad.append(f"changelog line over 75 columns: {l[:40]!r}")
        if l.startswith("Signed-off-by:") and "PLACEHOLDER" not in l:
            bad.append("Signed-off-by is not marked as a placeholder")
    stat, diff = rest.split("\ndiff --git ", 1)
    diff = "diff --git " + diff
    files, adds, dels = {}, 0, 0
    for block in re.split(r"^(?=diff --git )", diff, flags=re.M)[1:]:
        m = re.match(r"diff --git a/(\S+) b/(\S+)", block)
        path = m.group(2)
        if not PATCH_PATHS.match(path):
            bad.append(f"{path}: outside {PATCH_PATHS.pattern}")
        body = block.splitlines()
        a = d = 0
        i = next((j for j, l in enumerate(body) if l.startswith("@@")), len(body))
        while i < len(body):
            h = _HUNK.match(body[i])
            if not h:
                if body[i].startswith("-- ") or body[i] == "--":
                    break
                bad.append(f"{path}: line outside a hunk: {body[i][:40]!r}")
                break
            old_n, new_n = int(h.group(2) or 1), int(h.group(4) or 1)
            i += 1
            o = n = 0
            while i < len(body) and (o < old_n or n < new_n):
                c = body[i][:1]
                o += c in (" ", "-", "")
                n += c in (" ", "+", "")
                a += c == "+"
                d += c == "-"
                i += 1
            if (o, n) != (old_n, new_n):
                bad.append(f"{path}: hunk {h.group(0)} has {o}/{n} lines")
        files[path] = (a, d)
        adds, dels = adds + a, dels + d
    for path, (a, d) in files.items():
        m = re.search(rf"^ {re.escape(path)}\s+\|\s+(\d+) ", stat, re.M)
        if not m or int(m.group(1)) != a + d:
            bad.append(f"{path}: diffstat does not say {a + d} changed lines")
    m = re.search(r"(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?", stat)
    if not m or (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)) != (len(files), adds, dels):
        bad.append(f"diffstat summary does not say {len(files)} files, +{adds} -{dels}")
    return bad


def patches() -> dict[str, str]:
    """``{file name: text}`` of every patch in ``patches/``."""
    return {p.name: p.read_text() for p in sorted(PATCHES.glob("*.patch"))}
