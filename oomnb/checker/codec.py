"""The compact state encoding: one ``State`` as one Python int.

Each field of :class:`~oomnb.kernel.state.State` gets a bit range; a
value is stored as its small code, the order in which the exploration
first met that value of that field (so the encoding is deterministic).
The explorer's visited set, the memo keys of :mod:`oomnb.checker.memo`
(``code & mask of the fields read``) and a step's effect (``(code & clear)
| bits``) are then a few integer operations on ints of a few hundred bits,
instead of building, hashing and comparing a 38-field tuple per
successor.  The states themselves are still built (once each, when first
found), and every value is stored once: the codec keeps the first object
it met for each value (the thread tuples, the reaper's list), so equal
parts of states are one object.

Widths start small (4 bits, 12 for the tuple fields) and a field that
runs out of codes raises :class:`Overflow`; the explorer then starts again
with that field twice as wide.
"""

from __future__ import annotations

from ..kernel.state import State

FIELDS = State._fields
N_FIELDS = len(FIELDS)
TUPLE_FIELDS = frozenset({"th", "rlist", "rtimers"})


class Overflow(Exception):
    """A field met more distinct values than its width holds."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def default_widths() -> dict:
    return {f: (12 if f in TUPLE_FIELDS else 4) for f in FIELDS}


class Codec:
    """Field values <-> codes, and a state -> one int."""

    def __init__(self, widths: dict | None = None):
        self.widths = dict(widths or default_widths())
        self.shifts, self.masks = [], []
        at = 0
        for f in FIELDS:
            w = self.widths[f]
            self.shifts.append(at)
            self.masks.append(((1 << w) - 1) << at)
            at += w
        self._codes = [dict() for _ in FIELDS]     # value -> code << shift
        self._values = [[] for _ in FIELDS]        # code -> the stored value object

    def code(self, n: int, v) -> int:
        """Field ``n``'s value ``v`` as its code, already shifted into place."""
        c = self._codes[n].get(v)
        if c is None:
            k = len(self._values[n])
            if k >> self.widths[FIELDS[n]]:
                raise Overflow(FIELDS[n])
            self._values[n].append(v)
            c = self._codes[n][v] = k << self.shifts[n]
        return c

    def stored(self, n: int, v):
        """The object the codec keeps for value ``v`` of field ``n`` (equal to ``v``)."""
        return self._values[n][self.code(n, v) >> self.shifts[n]]

    def encode(self, s) -> int:
        c = 0
        for n, v in enumerate(s):
            c |= self.code(n, v)
        return c

    def canonical(self, s) -> State:
        """``s`` with every value replaced by the stored object."""
        return tuple.__new__(State, [self.stored(n, v) for n, v in enumerate(s)])

    def mask(self, fields) -> int:
        """The bits of the fields (indices)."""
        m = 0
        for n in fields:
            m |= self.masks[n]
        return m
