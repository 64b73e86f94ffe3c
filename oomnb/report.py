"""Figures and writeup blocks that notebooks register for ``oomnb build``.

A notebook cell calls::

    from oomnb import report
    report.figure("seed-timeline", fig, title="...", caption="...", section="problem")
    report.text("verdicts", table_text, title="...", section="model")

Inside a notebook this shows the figure (or prints the block) exactly once.
When the notebook runs under ``oomnb build`` (environment variable
``OOMNB_BUILD_DIR`` set by the builder) it also stages the figure and the
block under ``build/blocks/``, from which the builder assembles
``build/writeup.txt`` (the post), ``build/provenance.txt`` (which notebook
and block produced what) and ``build/figures/``.

The post
--------
``build/writeup.txt`` is a plain-text linux-mm post: a ``Subject:`` line,
then these sections in this order (``SECTIONS``); ``section=`` names one::

    summary          the opening paragraphs: the main claims (no heading)
    problem          what the seed, 26db62f179d1, solved
    model            the model and its verdict table per version
    counterexamples  shortest counterexamples as ASCII swimlanes
    current-kernel   the current kernel (6.18)
    bounds           bounds on reaper attempts, timers, sleeps
    measurements     real OOM kills: machines, kernels, numbers
    conformance      real traces checked against the model
    timelines        simulated timelines
    notes            anything else (the default for a block without section)
    figures          generated: the list of figures with one-line captions
    reproduce        generated: how to rebuild all of it (blocks append)

Within a section, blocks follow notebook order, then the order in which a
notebook registers them. A section with no block is left out. When a
section holds more than one block (other than ``summary``), each block's
title is printed as a sub-heading; a section's figures are named at its end.

Figures are numbered in post order: by section (as above), then notebook,
then registration order, and exported as ``build/figures/NN-NAME.{pdf,svg,
png}`` plus ``NN-NAME.json`` (title, caption). A figure without
``section=`` goes with ``notes``.

Every block must be at most 72 columns, plain ASCII, no tabs; a commit is
cited the kernel's way the first time it appears in the post:
``26db62f179d1 ("oom: keep mm of the killed task available")``
(:func:`check_post` enforces it on the assembled text).

Figures are written deterministically: no creation dates, a fixed SVG hash
salt, TrueType fonts embedded in PDF, so rebuilding changes no bytes.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

WIDTH = 72  # LKML: plain text, at most 72 columns
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
FIGURE_FORMATS = ("pdf", "svg", "png")

SUBJECT = "[RFC] oom: the oom_reaper protocol, model-checked and measured"

#: The post's sections, in order: (name, heading). ``summary`` has no heading.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", ""),
    ("problem", "The problem the seed solved"),
    ("model", "The model and its verdicts"),
    ("counterexamples", "Counterexamples"),
    ("current-kernel", "The current kernel (6.18)"),
    ("bounds", "Bounds"),
    ("measurements", "Measurements on real machines"),
    ("conformance", "Real traces against the model"),
    ("timelines", "Simulated timelines"),
    ("notes", "Further results"),
    ("figures", "Figures"),
    ("reproduce", "How to reproduce"),
)
SECTION_NAMES = tuple(name for name, _ in SECTIONS)
DEFAULT_SECTION = "notes"

STYLE = {
    "figure.figsize": (7.0, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.5,
    # colour-blind safe and distinguishable in grey print (Okabe-Ito)
    "axes.prop_cycle": matplotlib.cycler(color=[
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]),
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "oomnb",
    "path.simplify": True,
}

VERSION_COLORS = {"v4.5": "#999999", "v4.8": "#D55E00", "v4.9": "#0072B2", "v6.18": "#009E73"}
#: one colour per machine of the real data set, shared by every figure
MACHINE_COLORS = {"epyc2": "#0072B2", "kvm2": "#D55E00", "xeon16": "#009E73"}


def machine_color(machine: str) -> str:
    """The colour of a machine (``epyc2`` or ``epyc2-...``) in every figure."""
    base = machine.split("-")[0]
    if base in MACHINE_COLORS:
        return MACHINE_COLORS[base]
    spare = ["#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    return spare[sum(map(ord, base)) % len(spare)]


def use_style() -> None:
    """Apply the one oomnb figure style (readable in print and on screen) and
    show tables whole (no cell cut to "...")."""
    matplotlib.rcParams.update(STYLE)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.width", 250)


def _build_dir() -> Path | None:
    d = os.environ.get("OOMNB_BUILD_DIR")
    return Path(d) if d else None


def _notebook() -> str:
    return os.environ.get("OOMNB_NOTEBOOK", "interactive")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"figure/block name {name!r}: use lower-case letters, digits and '-'")


def _check_section(section: str | None) -> str:
    section = section or DEFAULT_SECTION
    if section not in SECTION_NAMES or section == "figures":
        raise ValueError(f"section {section!r}: one of " +
                         ", ".join(s for s in SECTION_NAMES if s != "figures"))
    return section


_seq = 0


def _next_seq() -> int:
    """Registration order within one notebook run (each run is a fresh kernel)."""
    global _seq
    _seq += 1
    return _seq


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``fig`` as STEM.pdf, STEM.svg and STEM.png, byte-reproducibly."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with matplotlib.rc_context({"svg.hashsalt": "oomnb", "pdf.fonttype": 42}):
        for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "oomnb"}),
                          ("svg", {"Date": None, "Creator": "oomnb"}),
                          ("png", {"Software": "oomnb"})):
            p = stem.with_name(stem.name + "." + ext)
            fig.savefig(p, format=ext, metadata=meta)
            out.append(p)
    return out


def _show_figure(fig) -> None:
    """Display ``fig`` once in a notebook (as the PNG the build exports, so it
    shows with or without ``%matplotlib inline``), and keep pyplot from
    showing it again at the cell's end."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    if get_ipython() is None:
        return
    import io

    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": "oomnb"})
    display(Image(data=buf.getvalue(), format="png"))
    plt.close(fig)  # a pyplot figure would otherwise be shown again at the cell's end


def figure(name: str, fig, *, title: str, caption: str = "", section: str | None = None,
           show: bool = True) -> None:
    """Register figure ``name`` for export (and show it once in a notebook).

    ``section`` places it in the post (see the module docstring); the builder
    numbers it ``NN-name`` in post order. Returns nothing, so a cell may end
    with this call without showing the figure twice.
    """
    _check_name(name)
    section = _check_section(section)
    seq = _next_seq()
    d = _build_dir()
    if d is not None:
        nb = _notebook()
        stem = d / "blocks" / "figures" / f"{nb}__{name}"
        save_figure(fig, stem)
        meta = {"name": name, "title": title, "caption": caption, "notebook": nb,
                "section": section, "seq": seq}
        stem.with_name(stem.name + ".json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    if show:
        _show_figure(fig)


# --- the post's format -------------------------------------------------------

#: a commit id: 12 to 40 lower-case hex digits standing alone (the post has
#: no other numbers that long)
COMMIT_ID = re.compile(r"(?<![0-9A-Za-z_.])[0-9a-f]{12,40}(?![0-9A-Za-z_])")
#: what a reader of the post must never see: tool and tracker lines
_FORBIDDEN = re.compile(r"\[from notebooks/|\bnotebooks?/\d\d|\bissue \d|\bissue's\b|\bhelper\b|"
                        r"\bsession\b|rebuilt by|oomnb build`", re.IGNORECASE)


def check_block(text: str) -> list[str]:
    """Problems that keep ``text`` out of an LKML post (long lines, tabs, non-ASCII)."""
    bad = []
    for i, line in enumerate(text.splitlines(), 1):
        if "\t" in line:
            bad.append(f"line {i}: tab")
        if len(line) > WIDTH:
            bad.append(f"line {i}: {len(line)} columns > {WIDTH}")
        if not line.isascii():
            ch = next(c for c in line if not c.isascii())
            bad.append(f"line {i}: non-ASCII {ch!r}")
    return bad


def check_citations(text: str) -> list[str]:
    """The first mention of each commit id must read ``ID ("title")``."""
    bad, seen = [], set()
    for m in COMMIT_ID.finditer(text):
        cid = m.group(0)
        if cid[:12] in seen:
            continue
        seen.add(cid[:12])
        if not re.match(r'\s+\("[^"]+"\)', text[m.end():], re.DOTALL):
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"line {line}: first mention of {cid} is not cited as {cid[:12]} (\"title\")")
    return bad


def check_post(text: str, figures_dir: Path | None = None) -> list[str]:
    """Every rule of the post: Subject line first, <= 72 columns, no tabs,
    ASCII, kernel-style citations, no provenance or tracker lines, and
    (with ``figures_dir``) every listed figure present as PDF, SVG and PNG."""
    lines = text.splitlines()
    bad = []
    if not lines or not re.match(r"^Subject: \S", lines[0]):
        bad.append("line 1: the post must start with a 'Subject: ' line")
    bad += check_block(text)
    bad += check_citations(text)
    for i, line in enumerate(lines, 1):
        if _FORBIDDEN.search(line):
            bad.append(f"line {i}: provenance or tracker words: {line.strip()!r}")
    if figures_dir is not None:
        for name in listed_figures(text):
            for ext in FIGURE_FORMATS:
                if not (figures_dir / f"{name}.{ext}").is_file():
                    bad.append(f"figure {name}: no {name}.{ext} in {figures_dir}")
    return bad


_FIG_LINE = re.compile(r"^\s*(\d\d-[a-z0-9-]+)\.\{pdf,svg,png\}")


def listed_figures(text: str) -> list[str]:
    """The ``NN-name`` figures the post's figure list names."""
    return [m.group(1) for line in text.splitlines() if (m := _FIG_LINE.match(line))]


class Block(str):
    """A registered block's text; prints once in a notebook, never as a repr."""

    def _ipython_display_(self):
        pass


def text(name: str, body: str, *, title: str, section: str | None = None, show: bool = True) -> Block:
    """Register a plain-text writeup block (<= 72 columns, ASCII, no tabs) for
    ``section`` of the post (see the module docstring) and print it."""
    _check_name(name)
    section = _check_section(section)
    body = body.rstrip("\n")
    problems = check_block(body) + (["title: tab"] if "\t" in title else [])
    if problems:
        raise ValueError(f"writeup block {name!r}: " + "; ".join(problems))
    seq = _next_seq()
    d = _build_dir()
    if d is not None:
        bd = d / "blocks"
        bd.mkdir(parents=True, exist_ok=True)
        nb = _notebook()
        (bd / f"{nb}__{name}.json").write_text(json.dumps(
            {"name": name, "title": title, "notebook": nb, "body": body, "section": section, "seq": seq},
            indent=1, sort_keys=True) + "\n")
    if show:
        print(body)
    return Block(body)


# --- assembly ------------------------------------------------------------------

def _order(b: dict) -> tuple:
    sec = b.get("section") or DEFAULT_SECTION
    return (SECTION_NAMES.index(sec) if sec in SECTION_NAMES else SECTION_NAMES.index(DEFAULT_SECTION),
            b["notebook"], b.get("seq", 0), b["name"])


def registered_blocks(build_dir: Path) -> list[dict]:
    """Every staged block, in post order."""
    return sorted((json.loads(p.read_text()) for p in (build_dir / "blocks").glob("*.json")), key=_order)


def registered_figures(build_dir: Path) -> list[dict]:
    """Every staged figure, in post order, with its number (``nn``) and final name."""
    figs = sorted((json.loads(p.read_text()) for p in (build_dir / "blocks" / "figures").glob("*.json")),
                  key=_order)
    for i, f in enumerate(figs, 1):
        f["nn"] = i
        f["final"] = f"{i:02d}-{f['name']}"
    return figs


@dataclass
class FigureChanges:
    """Figures of this build against the previous one (by name, ignoring the number)."""
    changed: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    renumbered: list[str] = field(default_factory=list)


def export_figures(build_dir: Path, figs: list[dict]) -> FigureChanges:
    """Copy the staged figures to ``build/figures/NN-name.*`` and say which
    ones differ (bytes) from what the previous build left there."""
    out = build_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    old: dict[str, str] = {}
    for p in out.glob("*.json"):
        m = re.match(r"^\d\d-(.+)$", p.stem)
        if m:
            old[m.group(1)] = p.stem
    keep = build_dir / ".figures-previous"
    shutil.rmtree(keep, ignore_errors=True)
    out.rename(keep)
    out.mkdir()
    ch = FigureChanges()
    for f in figs:
        src = build_dir / "blocks" / "figures" / f"{f['notebook']}__{f['name']}"
        for ext in FIGURE_FORMATS:
            shutil.copyfile(src.with_name(src.name + "." + ext), out / f"{f['final']}.{ext}")
        meta = {k: f[k] for k in ("name", "title", "caption", "section", "nn")}
        (out / f"{f['final']}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        prev = old.pop(f["name"], None)
        if prev is None:
            ch.new.append(f["final"])
        elif any(not (keep / f"{prev}.{ext}").is_file() or
                 not filecmp.cmp(keep / f"{prev}.{ext}", out / f"{f['final']}.{ext}", shallow=False)
                 for ext in FIGURE_FORMATS):
            ch.changed.append(f["final"])
        else:
            ch.unchanged.append(f["final"])
            if prev != f["final"]:
                ch.renumbered.append(f"{prev} -> {f['final']}")
    ch.removed = sorted(old.values())
    shutil.rmtree(keep, ignore_errors=True)
    return ch


def _wrap(text_: str, indent: str = "", sub: str | None = None) -> list[str]:
    return textwrap.wrap(text_, WIDTH, initial_indent=indent,
                         subsequent_indent=indent if sub is None else sub,
                         break_on_hyphens=False, break_long_words=False) or [""]


def _heading(n: int, title: str) -> str:
    head = f"{n}. {title}"
    return head + "\n" + "-" * len(head)


def _figure_list(figs: list[dict]) -> str:
    lines = ["Attached, each as PDF, SVG and PNG:", ""]
    for f in figs:
        lines.append(f"  {f['final']}.{{pdf,svg,png}}")
        cap = f["title"].rstrip(".") + "." + (" " + f["caption"] if f.get("caption") else "")
        lines += _wrap(cap, "      ")
    return "\n".join(lines)


def reproduce_text() -> str:
    """How to rebuild the post: the README's two commands and the version."""
    from importlib import metadata

    from . import __version__
    try:
        py = (metadata.metadata("oomnb").get("Requires-Python") or "").lstrip(">= ")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare tree
        py = ""
    lines = _wrap(f"Everything above comes from oomnb {__version__}. On a machine with "
                  f"Python {py or '3'} or newer, in a checkout:")
    lines += ["", '    pip install -e ".[test]" && oomnb build', ""]
    lines += _wrap("reruns the model checker and every analysis and writes this text "
                   "and the figures; the real traces it reads ship with the checkout. "
                   "All tests, the analyses' stored outputs included:")
    lines += ["", '    pip install -e ".[test]" && pytest']
    return "\n".join(lines)


def assemble(build_dir: Path) -> tuple[str, str, list[dict]]:
    """The post, its provenance and the figures (numbered), from the staged blocks."""
    blocks = registered_blocks(build_dir)
    figs = registered_figures(build_dir)
    by_sec: dict[str, list[dict]] = {}
    for b in blocks:
        by_sec.setdefault(b.get("section") or DEFAULT_SECTION, []).append(b)
    figs_by_sec: dict[str, list[dict]] = {}
    for f in figs:
        figs_by_sec.setdefault(f.get("section") or DEFAULT_SECTION, []).append(f)

    parts = [f"Subject: {SUBJECT}"]
    prov = ["Provenance of build/writeup.txt: the notebook and block (or figure)",
            "behind each section, in post order.", ""]
    n = 0
    for sec, heading in SECTIONS:
        bs = list(by_sec.get(sec, []))
        if sec == "figures":
            if not figs:
                continue
            body = _figure_list(figs)
        elif sec == "reproduce":
            body = "\n\n".join([reproduce_text()] + [b["body"] for b in bs])
        elif not bs:
            continue
        else:
            titled = len(bs) > 1 and sec != "summary"
            chunks = []
            for b in bs:
                chunks.append(("\n".join(_wrap(b["title"].rstrip(".") + ":")) + "\n\n" if titled else "")
                              + b["body"])
            body = "\n\n".join(chunks)
            fs = figs_by_sec.get(sec, [])
            if fs:
                body += "\n\n" + "\n".join(_wrap("Figures: " + ", ".join(f["final"] for f in fs) + "."))
        if heading:
            n += 1
            parts.append(_heading(n, heading) + "\n\n" + body)
            prov.append(f"{n}. {heading}")
        else:
            parts.append(body)
            prov.append(f"({sec}: the opening paragraphs)")
        for b in bs:
            prov.append(f"  block {b['name']}: notebooks/{b['notebook']}.ipynb ({b['title']})")
        for f in figs_by_sec.get(sec, []):
            prov.append(f"  figure {f['final']}: notebooks/{f['notebook']}.ipynb, "
                        f"report.figure({f['name']!r})")
        if sec == "figures":
            prov.append("  generated by the builder from the registered figures")
        if sec == "reproduce":
            prov.append("  generated by the builder (package version, README commands)")
    post = "\n\n\n".join(parts) + "\n"
    problems = check_block(post)
    if problems:  # pragma: no cover - blocks are checked on registration
        raise ValueError("writeup: " + "; ".join(problems))
    return post, "\n".join(prov) + "\n", figs


def assemble_writeup(build_dir: Path, header: str = "") -> str:
    """The post alone (kept for callers of the first API; ``header`` is ignored:
    a post carries no tool header)."""
    return assemble(build_dir)[0]
