"""Figures and writeup blocks that notebooks register for ``oomnb build``.

A notebook cell calls::

    from oomnb import report
    report.figure("seed-timeline", fig, title="...", caption="...")
    report.text("verdicts", table_text, title="...")

Inside a notebook this displays the figure (or prints the block) as usual.
When the notebook runs under ``oomnb build`` (environment variable
``OOMNB_BUILD_DIR`` set by the builder) it also writes the figure to
``build/figures/NAME.{pdf,svg,png}`` and the block to ``build/blocks/``,
from which ``build/writeup.txt`` is assembled.

Figures are written deterministically: no creation dates, a fixed SVG hash
salt, TrueType fonts embedded in PDF, so rebuilding changes no bytes.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import matplotlib

WIDTH = 72  # LKML: plain text, at most 72 columns
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

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


def use_style() -> None:
    """Apply the one oomnb figure style (readable in print and on screen)."""
    matplotlib.rcParams.update(STYLE)


def _build_dir() -> Path | None:
    d = os.environ.get("OOMNB_BUILD_DIR")
    return Path(d) if d else None


def _notebook() -> str:
    return os.environ.get("OOMNB_NOTEBOOK", "interactive")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"figure/block name {name!r}: use lower-case letters, digits and '-'")


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``fig`` as STEM.pdf, STEM.svg and STEM.png, byte-reproducibly."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with matplotlib.rc_context({"svg.hashsalt": "oomnb", "pdf.fonttype": 42}):
        for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "oomnb"}),
                          ("svg", {"Date": None, "Creator": "oomnb"}),
                          ("png", {"Software": "oomnb"})):
            p = stem.with_suffix("." + ext)
            fig.savefig(p, format=ext, metadata=meta)
            out.append(p)
    return out


def figure(name: str, fig, *, title: str, caption: str = ""):
    """Register figure ``name`` for export; returns ``fig`` so a cell can end with it."""
    _check_name(name)
    d = _build_dir()
    if d is not None:
        save_figure(fig, d / "figures" / name)
        meta = {"name": name, "title": title, "caption": caption, "notebook": _notebook()}
        (d / "figures" / f"{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return fig


def check_block(text: str) -> list[str]:
    """Problems that keep ``text`` out of an LKML post (long lines, tabs)."""
    bad = []
    for i, line in enumerate(text.splitlines(), 1):
        if "\t" in line:
            bad.append(f"line {i}: tab")
        if len(line) > WIDTH:
            bad.append(f"line {i}: {len(line)} columns > {WIDTH}")
    return bad


def text(name: str, body: str, *, title: str, show: bool = True) -> str:
    """Register a plain-text writeup block (<= 72 columns, no tabs) and print it."""
    _check_name(name)
    body = body.rstrip("\n")
    problems = check_block(body) + (["title: tab"] if "\t" in title else [])
    if problems:
        raise ValueError(f"writeup block {name!r}: " + "; ".join(problems))
    d = _build_dir()
    if d is not None:
        bd = d / "blocks"
        bd.mkdir(parents=True, exist_ok=True)
        nb = _notebook()
        (bd / f"{nb}__{name}.json").write_text(json.dumps(
            {"name": name, "title": title, "notebook": nb, "body": body}, indent=1, sort_keys=True) + "\n")
    if show:
        print(body)
    return body


def assemble_writeup(build_dir: Path, header: str = "") -> str:
    """Join the registered blocks, in notebook order, into one plain-text writeup."""
    blocks = []
    for p in sorted((build_dir / "blocks").glob("*.json")):
        blocks.append(json.loads(p.read_text()))
    parts = []
    if header:
        parts.append(header.rstrip("\n"))
    for i, b in enumerate(blocks, 1):
        head = f"{i}. {b['title']}"
        src = f"[from notebooks/{b['notebook']}.ipynb, block {b['name']}]"
        parts.append("\n".join(textwrap.wrap(head, WIDTH)) + "\n" + src + "\n\n" + b["body"])
    out = "\n\n\n".join(parts) + "\n"
    problems = check_block(out)
    if problems:  # pragma: no cover - blocks are checked on registration
        raise ValueError("writeup: " + "; ".join(problems))
    return out
