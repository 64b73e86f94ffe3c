"""The post oomnb build assembles (build/writeup.txt): format rules, citation
style, sections in order, figures numbered and present in three formats, no
provenance in the body; and the stored notebooks carry no timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from oomnb import report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = '26db62f179d1 ("oom: keep mm of the killed task available")'


def _fig():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x (s)")
    return fig


@pytest.fixture
def staged(tmp_path, monkeypatch):
    """A build directory with blocks and figures from two 'notebooks',
    registered out of post order."""
    monkeypatch.setenv("OOMNB_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("OOMNB_NOTEBOOK", "04-real")
    report.text("meas", "Reaps ran at 9 GB/s.", title="Measurements", section="measurements", show=False)
    report.figure("real", _fig(), title="Real", caption="One real run.", section="measurements", show=False)
    report.text("claim-real", "- real claim", title="r", section="summary", show=False)
    monkeypatch.setenv("OOMNB_NOTEBOOK", "00-seed")
    report.text("intro", f"About {SEED}.", title="intro", section="summary", show=False)
    report.text("problem", "Before 74070542099c (\"oom, suspend: fix oom_reaper vs.\n"
                "oom_killer_disable race\") ... and 74070542099c again.", title="The problem", section="problem",
                show=False)
    report.figure("timeline", _fig(), title="Timeline", caption="Changes.", section="problem", show=False)
    report.text("legacy", "a block without a section", title="Legacy", show=False)
    plt.close("all")
    return tmp_path


def _post(build_dir):
    post, prov, figs = report.assemble(build_dir)
    report.export_figures(build_dir, figs)
    return post, prov


def test_post_is_in_section_order_with_numbered_figures(staged):
    post, prov = _post(staged)
    assert post.splitlines()[0].startswith("Subject: ")
    assert post.index("About 26db62f179d1") < post.index("- real claim") < post.index("Before 74070542099c")
    assert post.index("The problem the seed solved") < post.index("Measurements on real machines") \
        < post.index("Further results") < post.index("a block without a section") \
        < post.index("Figures\n") < post.index("How to reproduce")
    # figures numbered in post order (problem before measurements), not registration order
    assert report.listed_figures(post) == ["01-timeline", "02-real"]
    assert sorted(p.name for p in (staged / "figures").iterdir()) == [
        "01-timeline.json", "01-timeline.pdf", "01-timeline.png", "01-timeline.svg",
        "02-real.json", "02-real.pdf", "02-real.png", "02-real.svg"]
    # sections nobody registered are left out; provenance lives elsewhere
    for absent in ("Counterexamples", "Bounds", "Simulated timelines", "current kernel"):
        assert absent not in post
    assert "notebooks/" not in post and "04-real" not in post
    assert "block meas: notebooks/04-real.ipynb" in prov
    assert report.check_post(post, staged / "figures") == []


def test_check_post_catches_each_planted_violation(staged):
    post, _ = _post(staged)
    figs = staged / "figures"
    assert report.check_post(post, figs) == []
    planted = {
        "no subject": post.split("\n", 1)[1],
        "73 columns": post + "x" * 73 + "\n",
        "tab": post + "a\tb\n",
        "non-ascii": post + "exit_mm \u2192 mmput\n",
        "bare commit": post + "fixed by 212925802454 later\n",
        "old citation style": post.replace(SEED, '26db62f179d1 "oom: keep mm of the killed task available"'),
        "provenance": post + "[from notebooks/00-the-seed.ipynb, block x]\n",
        "tracker": post + "as issue 5 asked\n",
    }
    for what, bad in planted.items():
        assert report.check_post(bad, figs), what
    (figs / "02-real.svg").unlink()
    assert any("02-real.svg" in p for p in report.check_post(post, figs))


def test_sections_are_a_fixed_vocabulary(monkeypatch):
    monkeypatch.delenv("OOMNB_BUILD_DIR", raising=False)
    with pytest.raises(ValueError, match="section"):
        report.text("x", "y", title="t", section="appendix", show=False)
    with pytest.raises(ValueError, match="section"):
        report.text("x", "y", title="t", section="figures", show=False)
    with pytest.raises(ValueError, match="non-ASCII"):
        report.text("x", "\u2192", title="t", show=False)


def test_figure_changes_are_reported(staged):
    _post(staged)
    ch = report.export_figures(staged, report.registered_figures(staged))
    assert ch.changed == [] and ch.new == [] and ch.unchanged == ["01-timeline", "02-real"]
    # a rerun that draws one figure differently
    import os
    os.environ["OOMNB_NOTEBOOK"] = "04-real"
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    report.figure("real", fig, title="Real", caption="One real run.", section="measurements", show=False)
    plt.close("all")
    ch = report.export_figures(staged, report.registered_figures(staged))
    assert ch.changed == ["02-real"] and ch.unchanged == ["01-timeline"]
    (staged / "blocks" / "figures" / "00-seed__timeline.json").unlink()
    ch = report.export_figures(staged, report.registered_figures(staged))
    assert ch.removed == ["01-timeline"] and ch.unchanged == ["01-real"]
    assert ch.renumbered == ["02-real -> 01-real"] and ch.new == ch.changed == []


def test_text_block_displays_once():
    b = report.text("once", "body", title="t", show=False)
    assert b == "body" and hasattr(b, "_ipython_display_")


def test_committed_post_rules_hold_for_a_full_build():
    """The real post, when a full build exists (oomnb build writes it)."""
    w = ROOT / "build" / "writeup.txt"
    if not w.exists():
        pytest.skip("no build/writeup.txt (run oomnb build)")
    post = w.read_text()
    assert report.check_post(post, ROOT / "build" / "figures") == []
    prov = ROOT / "build" / "provenance.txt"
    if prov.exists() and "notebooks/00-the-seed.ipynb" in prov.read_text():
        assert SEED in post          # a build that ran the seed notebook cites the seed


def test_stored_notebooks_hold_no_timestamps():
    import nbformat
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            assert "execution" not in meta and "ExecuteTime" not in meta, p.name
        text = p.read_text()
        assert "iopub.execute_input" not in text and "shell.execute_reply" not in text, p.name


def test_notebook_outputs_have_no_truncated_cells_or_reprs():
    import nbformat
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        for cell in nb.cells:
            imgs = 0
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                html = data.get("text/html", "")
                plain = data.get("text/plain", "")
                assert "...</td>" not in html, f"{p.name}: a table cell cut to '...'"
                assert not (plain.startswith("'") and "\\n" in plain), f"{p.name}: a block shown as a repr"
                imgs += "image/png" in data
            assert imgs <= 1, f"{p.name}: a figure shown twice"


def test_no_tracker_words_reach_a_reader():
    import nbformat
    words = ("issue 5", "issue 3", "the issue's", "helper", "session")
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        for cell in nb.cells:
            for w in words:
                assert w not in cell.source.lower(), f"{p.name}: {w!r}"
    head = (ROOT / "oomnb" / "checker" / "DIFFERENCES.md").read_text().splitlines()[0].lower()
    assert "issue" not in head
