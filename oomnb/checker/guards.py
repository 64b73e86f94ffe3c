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
not understand gives no pre-check (the transition is always tried).  A
disjunct that reads only the kernel and the scenario (``not sc.suspend``)
is decided once per exploration: true means the transition is left out.
A body that only dispatches on the thread's pc (``pc = s.th[i][0]``, then
``if pc == A: ... return``, ..., ``return NO``) gives the pcs of its cases.
A source that no longer matches the running code (its string constants
differ: the file was edited since it was imported) is not read.
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
    fields: tuple = ()                # (index of a State field, the values it must have), ...
    truthy: tuple = ()                # indices of fields that must be non-zero
    falsy: tuple = ()                 # indices of fields that must be zero
    never: tuple = ()                 # tests of (kernel, scenario) only: any true -> never enabled

    def disabled_for(self, kernel, scenario) -> bool:
        """Is the transition disabled in every state of this kernel and scenario?"""
        return any(f(kernel, scenario) for f in self.never)


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


def _constant(node, names, env):
    """``node`` depends only on ``names`` (the kernel and scenario arguments):
    a function of them, or None."""
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if not used or not used <= set(names) or any(
            isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield,
                           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
            for n in ast.walk(node)):
        return None
    try:
        return eval(f"lambda {', '.join(names)}: bool({ast.unparse(node)})", dict(env))
    except SyntaxError:   # pragma: no cover
        return None


def _disjunct(node, s, i, env, acc, names=None):
    """Record what the negation of one disjunct (a reason to return NO) requires."""
    if names is not None:
        f = _constant(node, names, env)
        if f is not None:
            acc.setdefault("never", []).append(f)
            return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        f = _field_expr(node.operand, s)
        if f is not None:
            acc.setdefault("truthy", []).append(f)
        return
    f = _field_expr(node, s)
    if f is not None:
        acc.setdefault("falsy", []).append(f)
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
    if f is not None:
        acc.setdefault("fields", []).append((f, allowed))


@lru_cache(maxsize=None)
def guard_of(fire) -> Guard | None:
    """The pre-check read from ``fire``'s opening guard clause, or None."""
    try:
        src = textwrap.dedent(inspect.getsource(fire))
        fn = ast.parse(src).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if not isinstance(fn, ast.FunctionDef) or fn.name != fire.__name__ \
            or len(fn.args.args) != 4 or not _same_strings(fn, fire.__code__):
        return None              # e.g. the file changed on disk since it was imported
    names = tuple(a.arg for a in fn.args.args)
    s, i = names[2], names[3]
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    env = dict(fire.__globals__)
    pcs = _pc_cases(body, s, i, env)
    if pcs is not None:
        return Guard(pcs=pcs)
    if not body or not isinstance(body[0], ast.If) or body[0].orelse:
        return None
    clause = body[0]
    if len(clause.body) != 1 or not _returns_empty(clause.body[0], env):
        return None
    test = clause.test
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) else [test]
    acc = {}
    for d in parts:
        _disjunct(d, s, i, env, acc, names[:2])
    if not acc:
        return None
    return Guard(pcs=acc.get("pcs"), fields=tuple(acc.get("fields", ())),
                 truthy=tuple(acc.get("truthy", ())), falsy=tuple(acc.get("falsy", ())),
                 never=tuple(acc.get("never", ())))


def _returns_empty(stmt, env) -> bool:
    """``return NO`` (an empty constant)."""
    if not isinstance(stmt, ast.Return) or stmt.value is None:
        return False
    try:
        empty = _const(stmt.value, env)
    except KeyError:
        return False
    return empty is not None and len(empty) == 0


def _pc_cases(body, s, i, env):
    """A body of the form ``pc = s.th[i][0]``; ``if pc == A: ... return ...``
    (any number of such cases, each ending in a return); ``return NO``: the
    pcs of the cases, or None."""
    if len(body) < 3 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1 \
            or not isinstance(body[0].targets[0], ast.Name) or not _pc_expr(body[0].value, s, i):
        return None
    pc = body[0].targets[0].id
    if not _returns_empty(body[-1], env):
        return None
    pcs = set()
    for st in body[1:-1]:
        if not isinstance(st, ast.If) or st.orelse or not st.body \
                or not isinstance(st.body[-1], ast.Return):
            return None
        t = st.test
        if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.left, ast.Name)
                and t.left.id == pc and isinstance(t.ops[0], (ast.Eq, ast.In))):
            return None
        try:
            v = _const(t.comparators[0], env)
        except KeyError:
            return None
        if isinstance(t.ops[0], ast.Eq):
            pcs.add(v)
        else:
            try:
                pcs.update(v)
            except TypeError:
                return None
    return frozenset(pcs)


# ------------------------------------------------------------------ step properties

@dataclass(frozen=True)
class StepGuard:
    """Necessary conditions for a step predicate ``f(k, sc, s, actor, tr, tags, s2)``
    to be true: ``state_ok(s)`` (tests of the pre-state's fields) and every
    tag of ``tags`` among the step's tags."""
    state_ok: object = None          # callable(state) -> bool, or None (no test)
    tags: tuple = ()
    reads: tuple = ()                # the State fields state_ok reads


def _source_node(fn):
    """The AST of a function or lambda (a lambda is found in its module by
    line and argument names; None if that is ambiguous)."""
    code = fn.__code__
    if fn.__name__ != "<lambda>":
        try:
            node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
        except (OSError, TypeError, SyntaxError, IndexError):
            return None
        return node if isinstance(node, ast.FunctionDef) and node.name == fn.__name__ \
            and _same_strings(node, code) else None
    try:
        mod = ast.parse(inspect.getsource(inspect.getmodule(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    args = list(code.co_varnames[:code.co_argcount])
    found = [n for n in ast.walk(mod) if isinstance(n, ast.Lambda)
             and n.lineno == code.co_firstlineno and [a.arg for a in n.args.args] == args]
    return found[0] if len(found) == 1 and _same_strings(found[0], code) else None


def _strings(code) -> set:
    """The string constants of a code object (and of the code and the
    tuples / frozensets of constants inside it)."""
    out = set()
    todo = list(code.co_consts)
    while todo:
        c = todo.pop()
        if isinstance(c, str):
            out.add(c)
        elif isinstance(c, (tuple, frozenset)):
            todo.extend(c)
        elif hasattr(c, "co_consts"):
            todo.extend(c.co_consts)
    return out


def _same_strings(node, code) -> bool:
    """The string constants of the parsed source are those of the running
    code (a source file edited since it was imported is not read)."""
    body = node.body if isinstance(node, ast.FunctionDef) else [node.body]
    if isinstance(node, ast.FunctionDef) and body and isinstance(body[0], ast.Expr) \
            and isinstance(body[0].value, ast.Constant):
        body = body[1:]               # the docstring
    found = set()
    for b in body:
        for n in ast.walk(b):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                found.add(n.value)
            elif isinstance(n, ast.keyword) and n.arg:
                found.add(n.arg)      # keyword names are constants of the call
    return found == _strings(code) - ({code.co_consts[0]} if isinstance(node, ast.FunctionDef)
                                      and code.co_consts and isinstance(code.co_consts[0], str)
                                      and ast.get_docstring(node) else set())


def _state_test(node, s, env, acc):
    """A test of one field of ``s`` against constants: record it (as a
    condition that must hold) and return True."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "bool" \
            and len(node.args) == 1 and not node.keywords:
        node = node.args[0]
    f = _field_expr(node, s)
    if f is not None:
        acc.setdefault("truthy", []).append(f)
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        f = _field_expr(node.operand, s)
        if f is not None:
            acc.setdefault("falsy", []).append(f)
            return True
        return False
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return False
    f = _field_expr(node.left, s)
    if f is None:
        return False
    try:
        val = _const(node.comparators[0], env)
    except KeyError:
        return False
    op = node.ops[0]
    try:
        if isinstance(op, ast.Eq):
            acc.setdefault("fields", []).append((f, frozenset({val})))
        elif isinstance(op, ast.In):
            acc.setdefault("fields", []).append((f, frozenset(val)))
        else:
            return False
    except TypeError:
        return False
    return True


def _tag_test(node, tags, env, acc) -> bool:
    """``"x" in tags``: record the tag."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In) \
            and isinstance(node.comparators[0], ast.Name) and node.comparators[0].id == tags:
        try:
            val = _const(node.left, env)
        except KeyError:
            return False
        if isinstance(val, str):
            acc.setdefault("tags", []).append(val)
            return True
    return False


def _negate(node):
    """``not node`` as a node the tests above read (``!=`` -> ``==``, ``not in`` -> ``in``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return node.operand
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        flip = {ast.NotEq: ast.Eq, ast.NotIn: ast.In, ast.Eq: ast.NotEq, ast.In: ast.NotIn}
        op = flip.get(type(node.ops[0]))
        if op is not None:
            return ast.Compare(left=node.left, ops=[op()], comparators=node.comparators)
    return ast.UnaryOp(op=ast.Not(), operand=node)


def _falsy_const(node) -> bool:
    return node is None or (isinstance(node, ast.Constant) and not node.value)


@lru_cache(maxsize=None)
def step_guard_of(fn) -> StepGuard | None:
    """Necessary conditions read from a step predicate: the conjuncts of a
    body that is one ``return A and B ...`` (or a lambda ``A and B ...``),
    or the negated disjuncts of an opening ``if C or D: return False``.
    Conditions not understood are simply not used (None: nothing)."""
    node = _source_node(fn)
    if node is None:
        return None
    names = [a.arg for a in node.args.args]
    if len(names) != 7:
        return None
    s, tags = names[2], names[5]
    env = dict(fn.__globals__)
    if fn.__closure__:
        env.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
    conds = []
    if isinstance(node, ast.Lambda):
        conds.append(node.body)
    else:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
            conds.append(body[0].value)
        elif body and isinstance(body[0], ast.If) and not body[0].orelse \
                and len(body[0].body) == 1 and isinstance(body[0].body[0], ast.Return) \
                and _falsy_const(body[0].body[0].value):
            t = body[0].test
            parts = t.values if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.Or) else [t]
            conds += [_negate(d) for d in parts]
    acc = {}
    for c in conds:
        parts = c.values if isinstance(c, ast.BoolOp) and isinstance(c.op, ast.And) else [c]
        for p in parts:
            _tag_test(p, tags, env, acc) or _state_test(p, s, env, acc)
    if not acc:
        return None
    tests = [f"s[{fi}] in V{m}" for m, (fi, _) in enumerate(acc.get("fields", ()))]
    tests += [f"s[{fi}]" for fi in acc.get("truthy", ())]
    tests += [f"not s[{fi}]" for fi in acc.get("falsy", ())]
    state_ok = None
    if tests:
        ns = {f"V{m}": vals for m, (_, vals) in enumerate(acc.get("fields", ()))}
        state_ok = eval(f"lambda s: bool({' and '.join(tests)})", ns)
    reads = tuple(sorted({fi for fi, _ in acc.get("fields", ())} | set(acc.get("truthy", ()))
                         | set(acc.get("falsy", ()))))
    return StepGuard(state_ok, tuple(acc.get("tags", ())), reads)
