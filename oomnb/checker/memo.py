"""Memoised transitions: a step's effect, looked up by the fields it reads.

A transition's ``fire(k, sc, s, i)`` is a pure function of the kernel, the
scenario, the instance and the *fields of* ``s`` *that it reads*; it
writes a few fields and copies the rest.  Most states of an exploration
differ from one another in fields a given transition never looks at (a
thread's ``exit_files`` step reads only the thread tuple), so the explorer
computes each distinct effect once and replays it.

How the read set is found: the first call runs ``fire`` on a
:class:`Recording` copy of the state, a ``State`` whose every field read
(attribute, index, slice, iteration, comparison, hash, ...) is logged and
whose ``_replace`` keeps logging on the new state and remembers the fields
it wrote.  The entry stored for that call is, per successor, the fields
written on the way to it and their values (plus its tags), keyed by the
values of the fields read.  A later state with the same values in those
fields takes the same path through ``fire`` (the same reads see the same
values) and gets the same writes, so the entry is replayed onto it.  The
key of a transition instance is the union of the fields read by all its
recorded calls; when a call reads a new field the key grows and the table
starts afresh (keys of different shapes never meet).  A successor that is
not a ``_replace`` of the recorded state (built some other way) counts as
writing every field, and a look at the whole tuple (iteration, slicing,
comparison, hashing) as reading every field; both only make the cache
less useful, never wrong.

The one assumption is the model's own: ``fire`` reads nothing but its
arguments (no globals that change).  The reads are logged per thread, so
explorations in several threads of one process do not mix their logs.  tests/test_checker_memo.py checks
the explored graphs against a plain search that calls ``fire`` in every
state, and that a read by each route above is seen.
"""

from __future__ import annotations

import threading

from ..kernel.state import State

FIELDS = State._fields
N_FIELDS = len(FIELDS)
_INDEX = {f: n for n, f in enumerate(FIELDS)}
_ALL = frozenset(range(N_FIELDS))
_new = tuple.__new__
_tget = tuple.__getitem__
_titer = tuple.__iter__


#: the fields read by the ``fire`` running in this thread (explorations in threads of
#: one process, e.g. a Dask worker's, each log their own)
_Log = threading.local()
_Log.reads = set()


def _read_all():
    _Log.reads.update(_ALL)


def _field_reader(n):
    def get(self):
        _Log.reads.add(n)
        return _tget(self, n)
    return property(get)


class Recording(State):
    """A state that logs which fields are read (into ``_Log.reads``) and,
    per derived state, which were written (``_w``)."""

    def _replace(self, **changes):
        vals = list(_titer(self))
        written = set(getattr(self, "_w", _ALL))
        for name, v in changes.items():
            n = _INDEX.get(name)
            if n is None:
                raise ValueError(f"Got unexpected field names: {[name]!r}")
            vals[n] = v
            written.add(n)
        r = _new(Recording, vals)
        r._w = frozenset(written)
        return r

    def _make(self, *a, **kw):       # pragma: no cover - a new state: every field written
        _read_all()
        return State._make(*a, **kw)


def _whole(name):
    base = getattr(tuple, name)

    def wrapped(self, *args, **kw):
        _read_all()
        return base(self, *args, **kw)
    wrapped.__name__ = name
    return wrapped


for _n, _f in enumerate(FIELDS):
    setattr(Recording, _f, _field_reader(_n))
# every other way of looking at the tuple reads all of it
for _name in ("__getitem__", "__iter__", "__contains__", "__eq__", "__ne__", "__lt__",
              "__le__", "__gt__", "__ge__", "__hash__", "__add__", "__mul__", "__rmul__",
              "count", "index", "__repr__", "__str__", "__format__", "__reduce__",
              "__reduce_ex__", "__getnewargs__"):
    setattr(Recording, _name, _whole(_name))
Recording._asdict = lambda self: dict(zip(FIELDS, iter(self)))


def recording(s) -> Recording:
    r = _new(Recording, _titer(s))
    r._w = frozenset()
    return r


def run_recorded(f, *args):
    """``(f(*args), fields read)``, the reads logged in this thread only."""
    outer = getattr(_Log, "reads", None)
    _Log.reads = reads = set()
    try:
        return f(*args), reads
    finally:
        _Log.reads = outer


_builders: dict = {}


def builder(idx: tuple):
    """``b(s, vals)``: ``s`` with the fields ``idx`` set to ``vals``."""
    b = _builders.get(idx)
    if b is None:
        if not idx:
            def b(s, v):
                return s
        else:
            src = ["def b(s, v):", "    l = list(s)"]
            src += [f"    l[{n}] = v[{m}]" for m, n in enumerate(idx)]
            src += ["    return new(State, l)"]
            ns = {"new": _new, "State": State}
            exec(compile("\n".join(src), f"<set fields {idx}>", "exec"), ns)
            b = ns["b"]
        _builders[idx] = b
    return b


class Memo:
    """The memo of one transition instance, in the codes of
    :mod:`oomnb.checker.codec`: ``table[code & key]`` is the entry
    ``[(clear, bits, builder, values, tags), ...]`` (empty: disabled); a
    successor's code is ``(code & clear) | bits`` and the state itself
    ``builder(state, values)``.  ``key`` is the mask of the fields read."""

    __slots__ = ("fire", "k", "sc", "i", "codec", "fields", "key", "table", "misses",
                 "on_change")

    def __init__(self, fire, k, sc, i, codec, on_change=None):
        self.fire, self.k, self.sc, self.i, self.codec = fire, k, sc, i, codec
        self.fields = frozenset()
        self.key = 0
        self.table = {}
        self.misses = 0
        self.on_change = on_change      # called when key and table are replaced

    def lookup(self, s, c):
        e = self.table.get(c & self.key)
        return self.record(s, c) if e is None else e

    def record(self, s, c):
        """Run ``fire`` on a recording of ``s`` (code ``c``); store and return its entry."""
        self.misses += 1
        codec = self.codec
        res, reads = run_recorded(self.fire, self.k, self.sc, recording(s), self.i)
        entry = []
        for s2, tags in res or ():
            w = getattr(s2, "_w", None) if isinstance(s2, Recording) else None
            idx = tuple(sorted(_ALL if w is None else w))
            vals = tuple(codec.stored(n, _tget(s2, n)) for n in idx)
            bits = 0
            for n, v in zip(idx, vals):
                bits |= codec.code(n, v)
            entry.append((~codec.mask(idx), bits, builder(idx), vals, tags))
        if not reads <= self.fields:
            self.fields = self.fields | reads
            self.key = codec.mask(self.fields)
            self.table = {}
            if self.on_change is not None:
                self.on_change(self)
        self.table[c & self.key] = entry
        return entry


class PredicateMemo:
    """The same for a state predicate ``f(k, sc, s) -> bool``: ``pm(s, c)``."""

    __slots__ = ("f", "k", "sc", "codec", "fields", "key", "table")

    def __init__(self, f, k, sc, codec):
        self.f, self.k, self.sc, self.codec = f, k, sc, codec
        self.fields = frozenset()
        self.key = 0
        self.table = {}

    def __call__(self, s, c):
        v = self.table.get(c & self.key)
        return self.record(s, c) if v is None else v

    def record(self, s, c):
        v, reads = run_recorded(self.f, self.k, self.sc, recording(s))
        v = bool(v)
        if not reads <= self.fields:
            self.fields = self.fields | reads
            self.key = self.codec.mask(self.fields)
            self.table = {}
        self.table[c & self.key] = v
        return v
