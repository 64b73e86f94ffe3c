"""The :class:`Trace` object and the module-level ``df_*`` helpers."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..errors import OomnbError
from . import episodes as _ep
from . import reader


class MissingEvents(OomnbError):
    """Requested events are not in the input (say which, and what was there)."""


class Trace:
    """Everything read from a set of paths (files, ``-``, ``.gz``, directories, data sets)."""

    def __init__(self, paths: Iterable[str] | str, *, fmt: str = "auto", trace_clock: str | None = None,
                 months: list[str] | None = None, year: int | None = None, strict: bool = False,
                 prefilter: str = "auto", warn=None):
        if isinstance(paths, str):
            paths = [paths]
        self.paths = list(paths)
        self.warnings: list[str] = []
        w = warn or self.warnings.append
        self.inputs = reader.expand(self.paths, fmt=fmt, warn=w)
        self.stats: list[reader.SourceStats] = []
        rows = []
        for inp in self.inputs:
            st = reader.SourceStats(inp.path)
            cols = reader.COLUMNS
            for r in reader.read_source(inp, trace_clock=trace_clock, months=months, year=year,
                                        prefilter=prefilter, stats=st):
                rows.append(tuple([r[c] for c in cols]))   # a tuple is a third of a dict
            self.stats.append(st)
            if strict and st.unparsed:
                u = st.unparsed[0]
                raise OomnbError(f"unparsed OOM-looking line ({len(st.unparsed)} in this file): {u.text[:100]}",
                                 path=u.path, line=u.line)
        ev = pd.DataFrame(rows, columns=reader.COLUMNS)
        self._events = _ep.mark_duplicates(ev)
        self._episodes = None
        self._memcg = None

    @property
    def unparsed(self) -> list[reader.Unparsed]:
        return [u for s in self.stats for u in s.unparsed]

    @property
    def lost(self) -> list[str]:
        return [x for s in self.stats for x in s.lost]

    def df_events(self, kinds: Iterable[str] | None = None, *, include_dup: bool = True) -> pd.DataFrame:
        ev = self._events
        if not include_dup:
            ev = ev[~ev.dup]
        if kinds is not None:
            kinds = list(kinds)
            missing = [k for k in kinds if not (ev.kind == k).any()]
            if missing:
                have = ", ".join(sorted(ev.kind.unique())) or "none"
                raise MissingEvents(f"no {', '.join(missing)} events in {', '.join(self.paths)} (found: {have})")
            ev = ev[ev.kind.isin(kinds)]
        return ev.reset_index(drop=True)

    def df_memcg(self) -> pd.DataFrame:
        if self._memcg is None:
            self._memcg = reader.read_memcg(self.inputs)
        return self._memcg

    def df_offsets(self) -> pd.DataFrame:
        ev = self._events
        return _ep.estimate_offsets(ev[~ev.dup & ev.in_run.astype(bool)])

    def df_episodes(self) -> pd.DataFrame:
        if self._episodes is None:
            lost = {s.path for s in self.stats if s.lost}
            self._episodes = _ep.build_episodes(self._events, memcg=self.df_memcg(), lost_sources=lost,
                                                metas=reader.run_metas(self.inputs))
        return self._episodes


def data_dir() -> "Path":
    """The project's ``data/`` directory (next to the package in a checkout)."""
    from pathlib import Path
    for d in (Path(__file__).resolve().parents[2] / "data", Path.cwd() / "data", Path.cwd().parent / "data"):
        if (d / "README.md").is_file():
            return d
    raise OomnbError("no data/ directory found (run from a checkout of the repository)")


def load(paths, **kw) -> Trace:
    return Trace(paths, **kw)


def df_events(paths, kinds=None, **kw) -> pd.DataFrame:
    return Trace(paths, **kw).df_events(kinds)


def df_episodes(paths, **kw) -> pd.DataFrame:
    return Trace(paths, **kw).df_episodes()


def df_offsets(paths, **kw) -> pd.DataFrame:
    return Trace(paths, **kw).df_offsets()
