"""``oomnb build``: rerun every notebook and export figures and the writeup.

Each notebook in ``notebooks/`` runs, in order, in a fresh kernel of the
current interpreter (nbclient). Notebooks register figures and text blocks
through :mod:`oomnb.report`; the builder points them at ``build/`` with the
``OOMNB_BUILD_DIR`` and ``OOMNB_NOTEBOOK`` environment variables. Output::

    build/notebooks/NN-name.ipynb   executed notebooks (no execution timestamps)
    build/html/NN-name.html         HTML rendering of each
    build/figures/NN-NAME.{pdf,svg,png,json}   figures, numbered in post order
    build/blocks/                   staged writeup blocks and figures
    build/writeup.txt               the linux-mm post (see oomnb.report)
    build/provenance.txt            which notebook and block produced what

After a rebuild, ``BuildResult.figures`` says which figures differ (bytes)
from the previous build.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OomnbError


def repo_root() -> Path:
    """The checkout that holds ``notebooks/`` (the package's parent directory)."""
    return Path(__file__).resolve().parent.parent


def _kernel_manager():
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnv(KernelSpecManager):
        """Always the interpreter that runs ``oomnb build`` (never a stray kernelspec)."""

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name="Python 3 (oomnb)", language="python")

    return KernelManager(kernel_spec_manager=CurrentEnv(), kernel_name="python3")


@dataclass
class NotebookResult:
    path: Path
    seconds: float
    error: str | None = None
    figures: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    notebooks: list[NotebookResult]
    figures: "report.FigureChanges"

    def __iter__(self):  # the notebooks, as build() returned before
        return iter(self.notebooks)

    def __len__(self):
        return len(self.notebooks)


def execute_notebook(src: Path, build_dir: Path, *, timeout: int = 900, stop=None):
    """Run ``src`` in a fresh kernel; returns (executed notebook, error or None).
    Ctrl-C stops the build after interrupting the kernel (:class:`BuildInterrupted`)."""
    import nbformat

    try:
        nb = nbformat.read(src, as_version=4)
    except Exception as e:
        raise OomnbError(f"not a readable notebook: {type(e).__name__}: {e}".splitlines()[0], path=str(src))
    env = {"OOMNB_BUILD_DIR": str(build_dir.resolve()), "OOMNB_NOTEBOOK": src.stem,
           "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "0", "TQDM_DISABLE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    km = _kernel_manager()
    with (stop or _StopOnInterrupt()) as stop:
        stop.km = km
        if not stop.got:
            nb, err = _execute(nb, km, src, timeout, saved, stop)
    if stop.got:
        raise BuildInterrupted(f"interrupted while running {src.name}")
    return nb, err


class BuildInterrupted(OomnbError):
    """Ctrl-C (SIGINT) or SIGTERM during ``oomnb build``."""

    exit_code = 130


class _StopOnInterrupt:
    """While a notebook runs, SIGINT/SIGTERM interrupt its kernel (the running cell
    fails at once) and are remembered, so that the build stops after it instead of
    going on with the next notebook; a second signal stops at once."""

    def __init__(self, km=None):
        self.km, self.got, self.depth = km, [], 0

    def _handler(self, signum, frame):
        if self.got:
            raise KeyboardInterrupt
        self.on_signal(signum)

    def on_signal(self, signum):
        """Remember the signal and interrupt the kernel (its running cell fails)."""
        import signal
        self.got.append(signum)
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:
                pass

    def __enter__(self):
        import signal
        import threading
        self.depth += 1
        if self.depth > 1:
            return self
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        import signal
        self.depth -= 1
        if self.depth:
            return False
        for s, h in self.old.items():
            signal.signal(s, h)
        return False


class _Stopped(Exception):
    pass


def _execute(nb, km, src, timeout, saved, stop):
    import signal
    import threading

    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    class Client(NotebookClient):
        """nbclient's own SIGINT/SIGTERM handlers (set on its event loop while the
        notebook runs) only clean up the kernel; ours also stop the build."""

        async def async_start_new_kernel(self, **kw):
            # After nbclient set its handlers on the event loop: a plain handler, which
            # runs at once even while the blocking kernel client waits for a reply
            # (the loop's would wait for the end of the cell).
            if threading.current_thread() is threading.main_thread():
                for s in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(s, stop._handler)
            return await super().async_start_new_kernel(**kw)

        async def async_execute_cell(self, *a, **kw):
            if stop.got:   # interrupted before this cell: run no more
                raise _Stopped()
            return await super().async_execute_cell(*a, **kw)

    try:
        client = Client(nb, km=km, timeout=timeout, record_timing=False,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                resources={"metadata": {"path": str(src.parent)}})
        try:
            client.execute()
            err = None
        except _Stopped:
            err = "interrupted"
        except CellExecutionError as e:
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            err = lines[-1] if lines else "cell failed"
        except (CellTimeoutError, DeadKernelError) as e:
            err = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        except Exception as e:  # kernel failed to start, broken notebook JSON, ...
            err = f"{type(e).__name__}: {e}".splitlines()[0]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, err


#: cell metadata that records when a cell ran (never stored: no wall-clock values)
TIMING_KEYS = ("execution", "ExecuteTime", "collapsed_timing")


def strip_timing(nb):
    """Drop execution timestamps (``iopub.execute_input`` and friends) from ``nb``."""
    for cell in nb.cells:
        for k in TIMING_KEYS:
            cell.get("metadata", {}).pop(k, None)
    return nb


def write_html(nb, dest: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    dest.write_text(body, encoding="utf-8")


def find_notebooks(nb_dir: Path, only: list[str] | None = None) -> list[Path]:
    paths = sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        paths = [p for p in paths if any(o in p.stem for o in only)]
    return paths


def build(out: Path, *, in_place: bool = False, only: list[str] | None = None,
          nb_dir: Path | None = None, log=print) -> BuildResult:
    from . import report

    nb_dir = nb_dir or repo_root() / "notebooks"
    paths = find_notebooks(nb_dir, only)
    if not paths:
        raise OomnbError("no notebooks to run" + (f" matching {only}" if only else ""), path=str(nb_dir))
    if not only:  # a full build forgets every staged block and figure
        shutil.rmtree(out / "blocks", ignore_errors=True)
    for sub in ("notebooks", "html", "figures", "blocks", "blocks/figures"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    with _StopOnInterrupt() as stop:
        results = _run_all(paths, out, in_place, log, stop)
    post, provenance, figs = report.assemble(out)
    changes = report.export_figures(out, figs)
    (out / "writeup.txt").write_text(post, encoding="utf-8")
    (out / "provenance.txt").write_text(provenance, encoding="utf-8")
    return BuildResult(results, changes)


def _run_all(paths, out, in_place, log, stop):
    import nbformat

    results = []
    for i, src in enumerate(paths, 1):
        log(f"[{i}/{len(paths)}] {src.name} ...")
        # Drop the figures and blocks this notebook registered last time.
        for old in [*(out / "blocks").glob(f"{src.stem}__*.json"),
                    *(out / "blocks" / "figures").glob(f"{src.stem}__*")]:
            old.unlink()
        t0 = time.monotonic()
        try:
            if stop.got:
                raise BuildInterrupted("interrupted")
            nb, err = execute_notebook(src, out, stop=stop)
        except (BuildInterrupted, KeyboardInterrupt):
            # partial outputs: this notebook's blocks and an outdated writeup go
            for old in list((out / "blocks").glob(f"{src.stem}__*.json")):
                old.unlink()
            (out / "writeup.txt").unlink(missing_ok=True)
            raise BuildInterrupted(f"interrupted while running {src.name}; {out}/writeup.txt removed, "
                                   f"{src.name} not written") from None
        strip_timing(nb)
        dt = time.monotonic() - t0
        res = NotebookResult(src, dt, err)
        nbformat.write(nb, out / "notebooks" / src.name)
        write_html(nb, out / "html" / f"{src.stem}.html")
        if in_place and err is None:
            nbformat.write(nb, src)
        status = "ok" if err is None else f"FAILED: {err}"
        log(f"[{i}/{len(paths)}] {src.name}: {status} ({dt:.1f} s)")
        results.append(res)
    return results
