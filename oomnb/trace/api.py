"""The :class:`Trace` object and the module-level ``df_*`` helpers.

The events and episodes are kept as plain rows; the DataFrames (and pandas)
come only when a ``df_*`` method is called.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        events = []
        for inp in self.inputs:
            st = reader.SourceStats(inp.path)
            for r in reader.read_source(inp, trace_clock=trace_clock, months=months, year=year,
                                        prefilter=prefilter, stats=st):
                events.append(_ep.Event.from_row(r, len(events)))
            self.stats.append(st)
            if strict and st.unparsed:
                u = st.unparsed[0]
                raise OomnbError(f"unparsed OOM-looking line ({len(st.unparsed)} in this file): {u.text[:100]}",
                                 path=u.path, line=u.line)
        self._records = _ep.mark_duplicates(events)
        self._events = None
        self._episode_rows = None
        self._episodes = None
        self._memcg = None
        self._metas = None

    @property
    def unparsed(self) -> list[reader.Unparsed]:
        return [u for s in self.stats for u in s.unparsed]

    @property
    def lost(self) -> list[str]:
        return [x for s in self.stats for x in s.lost]

    def events(self, kinds: Iterable[str] | None = None, *, include_dup: bool = True) -> list[_ep.Event]:
        """The rows of :meth:`df_events` as :class:`oomnb.trace.episodes.Event` s."""
        ev = self._records
        if not include_dup:
            ev = [e for e in ev if not e.dup]
        if kinds is not None:
            kinds = list(kinds)
            have = {e.kind for e in ev}
            missing = [k for k in kinds if k not in have]
            if missing:
                raise MissingEvents(f"no {', '.join(missing)} events in {', '.join(self.paths)} "
                                    f"(found: {', '.join(sorted(have)) or 'none'})")
            ev = [e for e in ev if e.kind in set(kinds)]
        return ev

    def df_events(self, kinds: Iterable[str] | None = None, *, include_dup: bool = True):
        if self._events is None:
            self._events = _ep.events_frame(self._records)
        ev = self._events
        if not include_dup:
            ev = ev[~ev.dup]
        if kinds is not None:
            self.events(kinds, include_dup=include_dup)   # raises MissingEvents
            ev = ev[ev.kind.isin(list(kinds))]
        return ev.reset_index(drop=True)

    def df_memcg(self):
        if self._memcg is None:
            self._memcg = reader.read_memcg(self.inputs)
        return self._memcg

    def offsets(self) -> list[dict]:
        """The rows of :meth:`df_offsets`."""
        return _ep.offsets([e for e in self._records if not e.dup and e.in_run])

    def df_offsets(self):
        return _ep.estimate_offsets([e for e in self._records if not e.dup and e.in_run])

    def _run_metas(self) -> dict:
        if self._metas is None:
            self._metas = reader.run_metas(self.inputs)
        return self._metas

    def episodes(self) -> list[dict]:
        """The rows of :meth:`df_episodes` (dicts of its columns, in its order)."""
        if self._episode_rows is None:
            lost = {s.path for s in self.stats if s.lost}
            metas = self._run_metas()
            memcg = self.df_memcg() if metas else None   # memcg samples come only with data-set runs
            self._episode_rows = _ep.episodes(self._records, memcg=memcg, lost_sources=lost, metas=metas)
        return self._episode_rows

    def df_episodes(self):
        if self._episodes is None:
            import pandas as pd
            if not self._records:
                self._episodes = pd.DataFrame(columns=_ep.EPISODE_COLUMNS)
            else:
                self._episodes = pd.DataFrame(self.episodes(), columns=_ep.EPISODE_COLUMNS)
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


def df_events(paths, kinds=None, **kw):
    return Trace(paths, **kw).df_events(kinds)


def df_episodes(paths, **kw):
    return Trace(paths, **kw).df_episodes()


def df_offsets(paths, **kw):
    return Trace(paths, **kw).df_offsets()
