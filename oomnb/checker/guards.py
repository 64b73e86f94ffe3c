"""Cheap pre-checks of transitions, read from their own guard clauses.

Most transitions are disabled in most states, and a transition's
``fire`` function almost always opens with a guard clause::

    if s.th[i][0] != EXITING or s.lockf:
        return NO

Each disjunct of such a clause that tests one field against a constant
is a necessary condition for the transition to be enabled (here: thread
i is at EXITING).  :func:`guard_of` reads these conditions from the
function's source (its AST), so they follow the code as it changes; the
explorer evaluates them inline before calling ``fire``.  A clause it does
not understand gives no pre-check (the transition is always tried).
tests/test_checker_symmetry.py explores with and without the pre-checks
and requires identical graphs.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from functools import lru_cache

from ..kernel.state import State

FIELD_INDEX = {f: n for n, f in enumerate(State._fields)}


@dataclass(frozen=True)
class Guard:
    pcs: frozenset | None = None      # the thread's pc must be in this set (per-thread steps)
    field: int | None = None          # index of a State field ...
    values: frozenset | None = None   # ... whose value must be in this set
    truthy: int | None = None         # index of a field that must be non-zero
    falsy: int | None = None          # index of a field that must be zero


def _const(node, env):
    """The value of a constant / name / tuple of them, or raise KeyError."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
        return tuple(_const(e, env) for e in node.elts)
    raise KeyError(type(node).__name__)


def _is_s(node, s):
    return isinstance(node, ast.Name) and node.id == s


def _pc_expr(node, s, i):
    """``s.th[i][0]``"""
    return (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            and node.slice.value == 0 and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.slice, ast.Name) and node.value.slice.id == i
            and isinstance(node.value.value, ast.Attribute) and node.value.value.attr == "th"
            and _is_s(node.value.value.value, s))


def _field_expr(node, s):
    if isinstance(node, ast.Attribute) and _is_s(node.value, s) and node.attr in FIELD_INDEX \
            and node.attr != "th":
        return FIELD_INDEX[node.attr]
    return None


def _disjunct(node, s, i, env, acc):
    """Record what the negation of one disjunct (a reason to return NO) requires."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        f = _field_expr(node.operand, s)
        if f is not None and acc.get("truthy") is None:
            acc["truthy"] = f
        return
    f = _field_expr(node, s)
    if f is not None:
        if acc.get("falsy") is None:
            acc["falsy"] = f
        return
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return
    op, left, right = node.ops[0], node.left, node.comparators[0]
    try:
        val = _const(right, env)
    except KeyError:
        return
    if isinstance(op, ast.NotEq):
        allowed = frozenset({val})
    elif isinstance(op, ast.NotIn):
        try:
            allowed = frozenset(val)
        except TypeError:
            return
    else:
        return
    if _pc_expr(left, s, i):
        acc["pcs"] = allowed if acc.get("pcs") is None else acc["pcs"] & allowed
        return
    f = _field_expr(left, s)
    if f is not None and acc.get("field") is None:
        acc["field"], acc["values"] = f, allowed


@lru_cache(maxsize=None)
def guard_of(fire) -> Guard | None:
    """The pre-check read from ``fire``'s opening guard clause, or None."""
    try:
        src = textwrap.dedent(inspect.getsource(fire))
        fn = ast.parse(src).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if not isinstance(fn, ast.FunctionDef) or fn.name != fire.__name__ \
            or len(fn.args.args) != 4:
        return None              # e.g. the file changed on disk since it was imported
    s, i = fn.args.args[2].arg, fn.args.args[3].arg
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[0], ast.If) or body[0].orelse:
        return None
    clause = body[0]
    if len(clause.body) != 1 or not isinstance(clause.body[0], ast.Return):
        return None
    ret = clause.body[0].value
    env = dict(fire.__globals__)
    try:
        empty = _const(ret, env) if ret is not None else None
    except KeyError:
        return None
    if empty is None or len(empty) != 0:
        return None
    test = clause.test
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) else [test]
    acc = {}
    for d in parts:
        _disjunct(d, s, i, env, acc)
    if not acc:
        return None
    return Guard(pcs=acc.get("pcs"), field=acc.get("field"), values=acc.get("values"),
                 truthy=acc.get("truthy"), falsy=acc.get("falsy"))
