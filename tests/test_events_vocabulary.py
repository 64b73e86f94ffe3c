"""One event vocabulary: no event name is spelled as a string literal in
the package outside ``oomnb/events.py`` (docstrings aside), and the
collector enables what the analyses declare."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import oomnb
from oomnb import events as ev

PKG = Path(oomnb.__file__).parent


def _docstrings(tree) -> set:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def literal_hits(path: Path) -> list:
    """(line, text) of string constants that spell an event name as code
    does: the whole string, a token of a string without spaces
    (``oom/mark_victim``), or a name followed by ``:`` or ``=`` as in a
    trace line (``mark_victim: pid=``).  One-word names (``killed``,
    ``reaped``) are ordinary words elsewhere and are not searched.  Prose that mentions an event
    (help texts, caveats) is not code and is allowed."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    names = set(ev.EVENTS)
    alt = "|".join(sorted((n for n in names if "_" in n), key=len, reverse=True))
    words = re.compile(r"\b(" + alt + r")\b")
    traced = re.compile(r"\b(" + alt + r")\b\s*[:=]")
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            v = node.value
            if (v in names and "_" in v) or traced.search(v) or (not re.search(r"\s", v) and words.search(v)):
                hits.append((node.lineno, v[:60]))
    return hits


def test_no_event_name_literal_outside_the_vocabulary():
    bad = {}
    for p in sorted(PKG.rglob("*.py")):
        if p.name == "events.py" and p.parent == PKG:
            continue
        h = literal_hits(p)
        if h:
            bad[str(p.relative_to(PKG))] = h
    assert not bad, bad


def test_the_check_finds_a_planted_literal(tmp_path):
    p = tmp_path / "m.py"
    p.write_text('"""mark_victim in a docstring is fine"""\nX = "mark_victim"\nY = rf"wake_reaper: pid={1}"\n')
    assert [ln for ln, _ in literal_hits(p)] == [2, 3]


def test_collector_enables_what_the_analyses_declare():
    from oomnb.collect import tracefs
    want = set(ev.tracefs_paths())
    assert {ev.EVENTS[n].tracefs for n in ev.ANALYSES["episodes"].required} <= want
    assert set(tracefs.EVENTS) == want
    # declaring an event in an analysis is what makes the collector enable it
    assert ev.EVENTS[ev.SUSPEND_RESUME].tracefs not in want
    assert ev.EVENTS[ev.SUSPEND_RESUME].tracefs in ev.tracefs_paths(("episodes", "conformance",
                                                                      "suspend"))


def test_every_ftrace_event_the_reader_knows_is_in_the_vocabulary():
    from oomnb.trace import ftrace
    assert set(ftrace.KEYS) <= set(ev.EVENTS)
    for name, fields in ftrace.KEYS.items():
        assert set(fields) <= set(ev.EVENTS[name].fields) | {"pid"}
