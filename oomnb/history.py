"""What changed around the seed commit, as data: versions and kernel changes.

Sources: the kernel trees (mm/oom_kill.c, kernel/exit.c, kernel/fork.c,
kernel/freezer.c, mm/mmap.c of each release) and the LKML patches that
changed them. The v4.5 facts come from LKML patch pre-images, not a v4.5
tree, and carry confidence marks ([H]/[M]/[L]); ``VERSION_FACTS`` keeps
those marks in the cells that rely on them. Commit ids and release tags not
checked in a tree are flagged here (``id_verified`` / ``tag_verified``) and drawn differently by
:func:`plot_change_timeline`.

``df_versions()`` is the side-by-side table of notebook 00;
``df_changes()`` the list of kernel changes on its timeline figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

VERSIONS = ["v4.5", "v4.8", "v4.9", "v4.19", "v5.15", "v6.1", "v6.18"]

#: aspect -> version -> short statement. "[M]" marks a v4.5 fact of medium
#: confidence in the reference; unmarked v4.5 cells are its [H] facts.
VERSION_FACTS: dict[str, dict[str, str]] = {
    "victim identity": {
        "v4.5": "TIF_MEMDIE on one thread",
        "v4.8": "TIF_MEMDIE + signal->oom_victims count",
        "v4.9": "signal->oom_mm set (sticky); TIF_MEMDIE per thread",
        "v4.19": "signal->oom_mm; MMF_OOM_VICTIM on the mm (4837fe37adff)",
        "v5.15": "as v4.19",
        "v6.1": "as v4.19",
        "v6.18": "signal->oom_mm set (tsk_is_oom_victim)",
    },
    "mm reference for OOM decisions": {
        "v4.5": "none kept; scan looks at task->mm",
        "v4.8": "find_lock_task_mm() per attempt (NULL after exit_mm)",
        "v4.9": "signal->oom_mm, pinned by mm_count until free_signal_struct",
        "v4.19": "signal->oom_mm via mmgrab until free_signal_struct",
        "v5.15": "as v4.19",
        "v6.1": "as v4.19",
        "v6.18": "signal->oom_mm via mmgrab until free_signal_struct",
    },
    "skip flag": {
        "v4.5": "none (no MMF_OOM_* flags)",
        "v4.8": "MMF_OOM_REAPED, MMF_OOM_NOT_REAPABLE (two strikes)",
        "v4.9": "MMF_OOM_SKIP: reaper always, __mmput after exit_mmap",
        "v4.19": "MMF_OOM_SKIP: reaper always, exit_mmap of a victim mm before unmap",
        "v5.15": "as v4.19; MMF_OOM_REAP_QUEUED queues an mm once",
        "v6.1": "MMF_OOM_SKIP: reaper always, exit_mmap after unmap",
        "v6.18": "MMF_OOM_SKIP: reaper always, exit_mmap after unmap",
    },
    "who calls exit_oom_victim": {
        "v4.5": "the victim, in exit_mm after mmput",
        "v4.8": "the victim (exit_mm) and the reaper, remotely",
        "v4.9": "the victim only (exit_mm, after mmput)",
        "v4.19": "the victim only (exit_mm, after mmput)",
        "v5.15": "the victim only (exit_mm, after mmput)",
        "v6.1": "the victim only (exit_mm, after mmput)",
        "v6.18": "the victim only (exit_mm, after mmput)",
    },
    "oom_killer_disable": {
        "v4.5": "waits for oom_victims == 0, no timeout",
        "v4.8": "waits, no timeout; then a second freezer pass",
        "v4.9": "waits at most freeze_timeout (20 s), else re-enables",
        "v4.19": "as v4.9 (20 s timeout)",
        "v5.15": "as v4.9 (20 s timeout)",
        "v6.1": "as v4.9 (20 s timeout)",
        "v6.18": "as v4.9 (20 s timeout)",
    },
    "reaper": {
        "v4.5": "none (oom_reaper arrived in v4.6)",
        "v4.8": "10 trylock attempts, HZ/10 apart, oom_lock per attempt",
        "v4.9": "10 attempts, oom_lock; mmget_not_zero gate",
        "v4.19": "10 attempts, no oom_lock; works on mm_users == 0; exit_mmap waits for it (write-lock barrier)",
        "v5.15": "as v4.19",
        "v6.1": "10 attempts, no oom_lock; works on mm_users == 0",
        "v6.18": "10 attempts, no oom_lock; works on mm_users == 0",
    },
    "freezer exemption (freezing_slow_path)": {
        "v4.5": "TIF_MEMDIE of current only (not of the task asked about)",
        "v4.8": "TIF_MEMDIE of the task",
        "v4.9": "TIF_MEMDIE of the task",
        "v4.19": "TIF_MEMDIE of the task",
        "v5.15": "TIF_MEMDIE of the task",
        "v6.1": "TIF_MEMDIE of the task",
        "v6.18": "every thread of a victim group (tsk_is_oom_victim); mark_oom_victim thaws the group",
    },
    "process_mrelease()": {
        "v4.5": "-",
        "v4.8": "-",
        "v4.9": "-",
        "v4.19": "-",
        "v5.15": "yes (884a7e5964e0); no MMF_OOM_SKIP test under mmap_lock",
        "v6.1": "yes; MMF_OOM_SKIP tested again under mmap_lock",
        "v6.18": "as v6.1",
    },
    "reaper delay": {
        "v4.5": "-",
        "v4.8": "none: woken at the kill",
        "v4.9": "none: woken at the kill",
        "v4.19": "none: woken at the kill",
        "v5.15": "none: woken at the kill",
        "v6.1": "OOM_REAPER_DELAY = 2*HZ timer",
        "v6.18": "OOM_REAPER_DELAY = 2*HZ timer",
    },
}


def df_versions() -> pd.DataFrame:
    """Aspects (rows) of the OOM killer / reaper in the modelled versions (columns), oldest first."""
    df = pd.DataFrame(VERSION_FACTS).T[VERSIONS]
    df.index.name = "aspect"
    return df


@dataclass(frozen=True)
class Change:
    version: str          # release the change first appears in (x axis)
    commit: str           # short id, or "" where the reference has none
    title: str
    what: str             # one line: what it did to the protocol
    id_verified: bool = True
    tag_verified: bool = True
    seed_series: bool = False


CHANGES: list[Change] = [
    Change("v4.6", "aac453635549", "mm, oom: introduce oom reaper",
           "a kthread unmaps the victim's anonymous memory"),
    Change("v4.7", "74070542099c", "oom, suspend: fix oom_reaper vs. oom_killer_disable race",
           "second freezer pass after oom_killer_disable", tag_verified=False),
    Change("v4.9", "26db62f179d1", "oom: keep mm of the killed task available",
           "the seed: signal->oom_mm pins the victim's mm", seed_series=True),
    Change("v4.9", "862e3073b3ee", "mm, oom: get rid of signal_struct::oom_victims",
           "MMF_OOM_REAPED becomes MMF_OOM_SKIP; __mmput sets it", seed_series=True),
    Change("v4.9", "7d2e7a22cf27", "oom, suspend: fix oom_killer_disable vs. pm suspend properly",
           "reaper stops remote exit_oom_victim; disable gets a timeout", seed_series=True),
    Change("v4.9", "38531201c12b", "mm, oom: enforce exit_oom_victim on current task",
           "exit_oom_victim() only acts on current", id_verified=False, seed_series=True),
    Change("v4.13", "422580c3cea7", "mm/oom_kill.c: add tracepoints for oom reaper-related events",
           "oom:mark_victim, wake_reaper, *_task_reaping", id_verified=False),
    Change("v4.14", "212925802454", "mm: oom: let oom_reap_task and exit_mmap run concurrently",
           "reaper works on mm_users == 0; exit_mmap sets MMF_OOM_SKIP"),
    Change("v4.15", "4837fe37adff", "mm, oom_reaper: fix memory corruption",
           "MMF_OOM_VICTIM decides the exit_mmap synchronisation"),
    Change("v4.19", "af5679fbc669", "mm, oom: remove oom_lock from oom_reaper",
           "reaper no longer takes oom_lock"),
    Change("v4.19", "3d8b38eb81ca", "mm, oom: introduce memory.oom.group",
           "a memcg OOM kills the whole group; each member queued", id_verified=False),
    Change("v4.19", "93065ac753e4", "mm, oom: distinguish blockable mode for mmu notifiers",
           "a notifier that would block makes a reap partial", id_verified=False),
    Change("v5.0", "9bcdeb51bd7d", "oom, oom_reaper: do not enqueue same task twice",
           "MMF_OOM_REAP_QUEUED: an mm is queued once"),
    Change("v5.1", "7775face2079", "memcg: killed threads should not invoke memcg OOM killer",
           "killable oom_lock wait; a dying charger bails out", id_verified=False, tag_verified=False),
    Change("v5.15", "884a7e5964e0", "mm: introduce process_mrelease system call",
           "user space can reap a dying process"),
    Change("v5.18", "e4a38402c36e", "oom_kill.c: futex: delay the OOM reaper to allow time for proper futex cleanup",
           "OOM_REAPER_DELAY: reaper starts 2*HZ after the kill", tag_verified=False),
    Change("v6.1", "bf3980c85212", "mm: drop oom code from exit_mmap",
           "exit_mmap unmaps under the read lock, then MMF_OOM_SKIP"),
    Change("v6.9", "72ba14deb40a", "mm: update mark_victim tracepoints fields",
           "oom:mark_victim gains comm, rss, uid, oom_score_adj", tag_verified=False),
    Change("v6.18", "59d4d36158ba", "mm/oom_kill: Thaw the entire OOM victim process",
           "mark_oom_victim thaws every thread (seen in 6.18 kallsyms)",
           id_verified=False, tag_verified=False),
]


def change(commit: str) -> Change:
    """The change whose id starts with ``commit``."""
    for c in CHANGES:
        if c.commit and c.commit.startswith(commit[:12]):
            return c
    raise KeyError(commit)


def cite(commit: str) -> str:
    """A commit cited the kernel's way: ``26db62f179d1 ("oom: keep mm of the killed task available")``."""
    c = change(commit)
    return f'{c.commit[:12]} ("{c.title}")'


def df_changes() -> pd.DataFrame:
    """The kernel changes on the timeline, with what the reference could verify."""
    rows = [{"version": c.version, "commit": c.commit or "(no id)", "title": c.title, "effect": c.what,
             "id verified": c.id_verified, "tag verified": c.tag_verified, "seed series": c.seed_series}
            for c in CHANGES]
    return pd.DataFrame(rows)


def _version_key(v: str) -> tuple[int, int]:
    major, minor = v.lstrip("v").split(".")
    return int(major), int(minor)


def plot_change_timeline(changes: list[Change] | None = None):
    """Timeline of the changes: release on the x axis (ordinal), one row per
    commit, its id and effect in a column to the right.

    Filled markers: the commit id was checked. Hollow markers: the id was
    not checked in a tree. A dashed bar around a marker: the release tag is
    inferred. The seed series is drawn in blue, the seed itself in bold.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    changes = changes or CHANGES
    versions = sorted({c.version for c in changes}, key=_version_key)
    xpos = {v: i for i, v in enumerate(versions)}
    n = len(changes)
    fig = Figure(figsize=(7.2, 0.24 * n + 1.5))
    ax = fig.add_axes((0.05, 0.16, 0.36, 0.72))
    for row, c in enumerate(changes):
        x, y = xpos[c.version], n - row
        color = "#0072B2" if c.seed_series else "#444444"
        ax.plot([x, len(versions) - 0.5], [y, y], color=color, lw=0.4, ls=":", alpha=0.6, clip_on=False)
        if not c.tag_verified:
            ax.plot([x - 0.4, x + 0.4], [y, y], color=color, lw=1.2, ls="--")
        ax.plot([x], [y], marker="o", ms=5.5, color=color, mfc=color if c.id_verified else "white",
                mew=1.3, zorder=3)
        label = c.commit or "(no id)"
        ax.annotate(f"{label:12}  {c.what}", (1.02, y), xycoords=("axes fraction", "data"), fontsize=6.5,
                    va="center", color=color, family="DejaVu Sans Mono", annotation_clip=False,
                    fontweight="bold" if c.commit == "26db62f179d1" else "normal")
    ax.set_xticks(range(len(versions)), versions, fontsize=7, rotation=60)
    ax.set_xlim(-0.5, len(versions) - 0.5)
    ax.set_ylim(0.4, n + 0.6)
    ax.set_yticks([])
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("first mainline release (one column per release)")
    ax.set_title("OOM victim / oom_reaper changes around 26db62f179d1 (blue: the seed series)",
                 loc="left", pad=18, fontsize=9)
    handles = [Line2D([], [], marker="o", color="#444444", ls="", label="commit id checked")]
    if any(not c.id_verified for c in changes):
        handles.append(Line2D([], [], marker="o", color="#444444", mfc="white", ls="",
                              label="id not checked in a tree"))
    if any(not c.tag_verified for c in changes):
        handles.append(Line2D([], [], color="#444444", ls="--", label="release inferred"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=7,
              borderaxespad=0.2, handletextpad=0.3, columnspacing=1.0)
    return fig


def unverified_note(changes: list[Change] | None = None) -> str:
    """One line per change whose id or tag the reference does not verify."""
    out = []
    for c in changes or CHANGES:
        what = [w for w, ok in (("commit id", c.id_verified), ("release tag", c.tag_verified)) if not ok]
        if what:
            out.append(f"{c.version:6} {c.commit or '(no id)':13} {' and '.join(what)} not checked: {c.title}")
    return "\n".join(out)


def _para(text: str, width: int = 72) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))


SEED = "26db62f179d1"


def summary_intro_text(width: int = 72) -> str:
    """The post's opening paragraph: what was studied and how."""
    return _para(
        f"This post looks again at {cite(SEED)}, merged in v4.9, and its series, which "
        "made the OOM killer and the oom_reaper independent of the victim "
        "finishing its own exit. We wrote one executable model of the victim "
        "/ oom_reaper protocol, with transitions named after the kernel "
        f"functions, in {', '.join(VERSIONS[:-1])} and {VERSIONS[-1]}, explored "
        "every interleaving of it, and compared it with OOM kills recorded on "
        "real machines. The main results:", width)


def problem_text(width: int = 72) -> str:
    """The problem the seed solved (before 26db62f179d1), and the series."""
    paras = [
        "Before the seed, the OOM killer knew its victim through TIF_MEMDIE "
        "and found the victim's mm through find_lock_task_mm(): the first "
        "thread that still has ->mm. A victim leaves ->mm in exit_mm(), but "
        "it calls exit_oom_victim() only after mmput() -> __mmput() -> "
        "exit_aio() -> exit_mmap(), and exit_aio() waits for the victim's "
        "in-flight AIO for as long as that IO takes.",
        "So once every thread had passed exit_mm, nothing reachable from the "
        "task held the mm: the OOM killer could neither reap it nor decide "
        "to skip it, and it waited for a victim that waited for IO. The only "
        "way out was exit_oom_victim(), so from v4.6 to v4.8 the oom_reaper "
        "cleared the victim's TIF_MEMDIE remotely. That broke the promise of "
        "oom_killer_disable(): it could return, and suspend go on, while a "
        f"victim thread still ran towards its IO; {cite('74070542099c')} "
        "(v4.7) narrowed the window with a second freezer pass.",
        "The seed pins the victim's mm in signal_struct::oom_mm with an "
        "mm_count reference held until free_signal_struct(), so the OOM "
        "killer and the reaper keep a reliable mm after exit_mm. The series "
        "around it:",
    ]
    import textwrap
    lines = []
    for c in (c for c in CHANGES if c.seed_series):
        mark = "" if c.id_verified else " (id not checked in a tree)"
        lines += textwrap.wrap(f"- {cite(c.commit)}{mark}: {c.what}.", width,
                               subsequent_indent="  ", break_on_hyphens=False)
    return "\n\n".join(_para(p, width) for p in paras) + "\n\n" + "\n".join(lines)


def seed_summary_text(width: int = 72) -> str:
    """The problem text (kept under its first name)."""
    return problem_text(width)
