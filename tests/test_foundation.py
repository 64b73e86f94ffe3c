"""The project's own plumbing: CLI, figure/writeup registry, build, nbval setup."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from oomnb import __version__, history, report  # noqa: E402
from oomnb.cli import _commands, main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def oomnb(*args, **kw):
    return subprocess.run([sys.executable, "-m", "oomnb", *args], capture_output=True, text=True,
                          cwd=kw.pop("cwd", ROOT), **kw)


def test_version():
    r = oomnb("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"oomnb {__version__}"


def test_every_subcommand_explains_itself():
    names = [m.NAME for m in _commands()]
    assert "build" in names and "bench" in names
    for name in names:
        r = oomnb(name, "--help")
        assert r.returncode == 0, (name, r.stderr)
        assert f"oomnb {name}" in r.stdout


def test_user_error_is_one_line_without_traceback(tmp_path):
    r = oomnb("build", "--only", "no-such-notebook", "--out", str(tmp_path / "b"))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "no notebooks to run" in err[0]
    assert "Traceback" not in r.stderr


def test_main_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


# --- report: writeup blocks -------------------------------------------------

def test_text_block_rejects_long_lines_and_tabs(monkeypatch):
    monkeypatch.delenv("OOMNB_BUILD_DIR", raising=False)
    with pytest.raises(ValueError, match="73 columns"):
        report.text("too-wide", "x" * 73, title="t", show=False)
    with pytest.raises(ValueError, match="tab"):
        report.text("tabs", "a\tb", title="t", show=False)
    with pytest.raises(ValueError, match="name"):
        report.text("Bad Name", "ok", title="t", show=False)
    assert report.text("fine", "y" * 72 + "\n", title="t", show=False) == "y" * 72


def test_blocks_assemble_in_notebook_order(tmp_path, monkeypatch):
    monkeypatch.setenv("OOMNB_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("OOMNB_NOTEBOOK", "04-real-traces")
    report.text("late", "from 04", title="Second", show=False)
    monkeypatch.setenv("OOMNB_NOTEBOOK", "00-the-seed")
    report.text("early", "from 00", title="A title that is long enough to need wrapping " * 3, show=False)
    out = report.assemble_writeup(tmp_path, "header")
    assert out.index("from 00") < out.index("from 04")
    assert "header" not in out and "[from notebooks/" not in out
    assert "block late: notebooks/04-real-traces.ipynb" in report.assemble(tmp_path)[1]
    assert all(len(line) <= 72 and "\t" not in line for line in out.splitlines())


# --- report: figures --------------------------------------------------------

def _fig():
    report.use_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 3, 2], label="a")
    ax.set_title("reproducible")
    ax.legend()
    return fig


def test_figures_are_byte_reproducible(tmp_path):
    a = report.save_figure(_fig(), tmp_path / "a" / "f")
    b = report.save_figure(_fig(), tmp_path / "b" / "f")
    plt.close("all")
    assert [p.suffix for p in a] == [".pdf", ".svg", ".png"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.suffix
    pdf = a[0].read_bytes()
    assert b"CreationDate" not in pdf
    assert b"/FontFile2" in pdf  # TrueType font embedded (pdf.fonttype 42)
    assert b"<dc:date>" not in a[1].read_bytes()


def test_figure_registers_only_under_build(tmp_path, monkeypatch):
    monkeypatch.delenv("OOMNB_BUILD_DIR", raising=False)
    report.figure("x", _fig(), title="t")
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("OOMNB_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("OOMNB_NOTEBOOK", "nb")
    report.figure("x", _fig(), title="T", caption="C")
    plt.close("all")
    staged = tmp_path / "blocks" / "figures"
    assert sorted(p.name for p in staged.iterdir()) == ["nb__x.json", "nb__x.pdf", "nb__x.png", "nb__x.svg"]
    meta = json.loads((staged / "nb__x.json").read_text())
    assert {k: meta[k] for k in ("name", "title", "caption", "notebook", "section")} == \
        {"name": "x", "title": "T", "caption": "C", "notebook": "nb", "section": "notes"}


# --- history (notebook 00's facts) ------------------------------------------

def test_history_tables():
    df = history.df_versions()
    # one column per named version of the model (standard and LTS), oldest first
    from oomnb.kernel.versions import ALL
    assert list(df.columns) == list(ALL)
    assert df.notna().all().all()
    ch = history.df_changes()
    seed = ch[ch["commit"] == "26db62f179d1"]
    assert len(seed) == 1 and seed["version"].item() == "v4.9" and seed["seed series"].item()
    # every change the reference does not verify is listed in the note, and no other
    note = history.unverified_note()
    flagged = [c for c in history.CHANGES if not (c.id_verified and c.tag_verified)]
    assert len(note.splitlines()) == len(flagged)
    for c in flagged:
        assert c.title in note
    assert all(len(line) <= 72 for line in history.seed_summary_text().splitlines())


# --- packaging --------------------------------------------------------------

def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = (ROOT / "environment.yml").read_text()
    deps = [ln.strip()[2:].strip() for ln in env.splitlines() if ln.strip().startswith("- ")]
    m = re.search(r">=\s*(\d+\.\d+)", py["project"]["requires-python"])
    assert f"python={m.group(1)}" in deps
    assert "pip" in deps
    pip_line = [d for d in deps if d.startswith("-e ")]
    assert len(pip_line) == 1
    extras = re.search(r"\[(.*)\]", pip_line[0]).group(1).split(",")
    assert set(extras) <= set(py["project"]["optional-dependencies"])
    assert {"test", "lab"} <= set(extras)


def test_notebook_stack_is_pinned():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {}
    for d in py["project"]["dependencies"] + py["project"]["optional-dependencies"]["test"]:
        name, _, ver = d.partition("==")
        if ver:
            pins[name.strip()] = ver.strip()
    for name in ("pandas", "numpy", "matplotlib", "sympy", "networkx", "nbclient", "nbformat",
                 "ipykernel", "pytest", "nbval"):
        assert name in pins, name
    ini = py["tool"]["pytest"]["ini_options"]
    assert "--nbval" in ini["addopts"].split() and "--nbval-lax" not in ini["addopts"]
    assert ini["testpaths"] == ["tests", "notebooks"]


def test_notebooks_are_committed_executed():
    import nbformat
    nbs = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert nbs and nbs[0].name.startswith("00-")
    for p in nbs:
        nb = nbformat.read(p, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        assert all(c.execution_count is not None for c in code), p.name
        for c in code:
            assert len(c.source.splitlines()) <= 12, f"{p.name}: cells are a few lines calling the package"


# --- nbval really compares (strict) -----------------------------------------

def _run_nbval(nb_path: Path):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval", "--nbval-current-env", f"--nbval-sanitize-with={ROOT / 'notebooks' / 'sanitize.cfg'}",
         "--rootdir", str(nb_path.parent), str(nb_path)],
        capture_output=True, text=True, cwd=nb_path.parent)


def test_nbval_fails_when_a_stored_output_changes(tmp_path):
    import nbformat
    src = ROOT / "notebooks" / "00-the-seed.ipynb"
    good = tmp_path / "good.ipynb"
    shutil.copy(src, good)
    assert _run_nbval(good).returncode == 0
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and "not checked" in out.get("text", ""):
                out["text"] = out["text"].replace("not checked", "checked", 1)
                break
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    r = _run_nbval(bad)
    assert r.returncode != 0
    assert "mismatch" in r.stdout.lower()


def test_build_writes_everything(tmp_path):
    r = oomnb("build", "--only", "00", "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    b = tmp_path / "b"
    assert (b / "notebooks" / "00-the-seed.ipynb").exists()
    assert (b / "html" / "00-the-seed.html").read_text().startswith("<!DOCTYPE html>")
    assert {p.suffix for p in (b / "figures").glob("01-seed-timeline.*")} == {".pdf", ".svg", ".png", ".json"}
    w = (b / "writeup.txt").read_text()
    assert w.startswith("Subject: ") and '26db62f179d1 ("oom: keep mm' in w
    assert "notebooks/00-the-seed.ipynb" in (b / "provenance.txt").read_text()
    assert report.check_post(w, b / "figures") == []
    assert "figures since the last build" in r.stdout
