"""The reaper's retry loop when each mmap trylock fails with probability p.

``oom_reap_task`` makes up to ``R = MAX_OOM_REAP_RETRIES`` attempts,
sleeping ``HZ/10`` after each failed one.  If every
``mmap_read_trylock`` fails independently with probability ``p``, the
loop is an absorbing Markov chain: transient states "attempt k is next"
(k = 1..R), absorbing states *reaped* and *unable to reap*.  With ``Q``
the transient-to-transient matrix and ``B`` transient-to-absorbing, the
fundamental matrix ``N = (I - Q)^-1`` gives the expected number of
attempts (row sums of N) and the absorption probabilities ``N B``; sympy
solves it for a given R and the closed forms for symbolic R follow from
the geometric sums, checked against the matrix solution.

Time per outcome comes from the model's delay classes
(:mod:`oomnb.kernel.timing`): the first attempt runs after the
``OOM_REAPER_DELAY`` timer, each attempt takes ``t_attempt``, each
failure adds the ``HZ/10`` sleep, a success the unmap ``rss_anon/B_reap``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..kernel import timing

p = sp.Symbol("p", positive=True)                 # P(one trylock fails), 0 < p < 1
k_ = sp.Symbol("k", integer=True, positive=True)  # the attempt that ends the loop
q_ = sp.Symbol("q", positive=True)                # quantile level
R = timing.MAX_OOM_REAP_RETRIES


def chain(retries: int):
    """(Q, B) of the chain for ``retries`` attempts: states attempt 1..R;
    absorbing columns (reaped, unable)."""
    Q = sp.zeros(retries, retries)
    B = sp.zeros(retries, 2)
    for i in range(retries):
        B[i, 0] = 1 - p
        if i + 1 < retries:
            Q[i, i + 1] = p
        else:
            B[i, 1] = p
    return Q, B


def solve_chain(retries: int) -> dict:
    """Expected attempts and absorption probabilities from the fundamental
    matrix, exactly (sympy)."""
    Q, B = chain(retries)
    N = (sp.eye(retries) - Q).inv()
    A = N * B
    return {"N": N, "expected_attempts": sp.factor(sum(N.row(0))),
            "p_reaped": sp.factor(A[0, 0]), "p_unable": sp.factor(A[0, 1])}


@dataclass(frozen=True)
class RetryLoop:
    """Closed forms in ``p`` and ``R`` (and the delay symbols) for one kernel."""

    pmf: sp.Expr             # P(the loop ends at attempt k), k = 1..R
    p_unable: sp.Expr        # P(all R attempts fail) = p**R
    expected_attempts: sp.Expr
    t_start: sp.Expr         # kill -> attempt k (as a function of k)
    t_reaped: sp.Expr        # kill -> reap finished, success at attempt k
    t_unable: sp.Expr        # kill -> give up after R failures
    expected_latency: sp.Expr   # E[kill -> oom_reap_task done], by parts
    expected_latency_sum: sp.Expr   # the same as the sum over the pmf (sympy)
    k_quantile: sp.Expr      # the q-quantile of the attempt that ends the loop
    quantile_latency: sp.Expr   # kill -> that attempt (reaper start or last failure)


@functools.lru_cache(maxsize=16)
def retry_loop(kernel) -> RetryLoop:
    """The closed forms for ``kernel`` (its timer and sleep delays)."""
    k = kernel
    T0 = timing.OOM_REAPER_DELAY_TIMER.expr(k) if k.queue == "timer" else sp.Integer(0)
    a = timing.REAP_ATTEMPT.expr(k)
    s = timing.REAP_RETRY_SLEEP.expr(k)
    u = timing.REAP_UNMAP.expr(k)
    pmf = sp.Piecewise((p ** (R - 1), sp.Eq(k_, R)), (p ** (k_ - 1) * (1 - p), True))
    p_unable = p ** R
    # E[N] = sum_{k<R} k p^(k-1) (1-p) + R p^(R-1)
    EN = sp.simplify(sp.summation(k_ * p ** (k_ - 1) * (1 - p), (k_, 1, R - 1)) + R * p ** (R - 1))
    t_start = T0 + k_ * a + (k_ - 1) * s
    t_reaped = t_start + u
    t_unable = T0 + R * a + R * s
    # E[L] = sum_{k=1}^{R} p^(k-1)(1-p) t_reaped(k) + p^R t_unable
    EL = sp.summation(p ** (k_ - 1) * (1 - p) * t_reaped, (k_, 1, R)) + p_unable * t_unable
    EL = sp.simplify(EL)
    # by parts: every attempt costs a, every failure but a final success a sleep,
    # a success the unmap: E[failures] = E[N] - P(reaped)
    EN_ = (1 - p ** R) / (1 - p)
    by_parts = T0 + EN_ * a + (EN_ - (1 - p_unable)) * s + (1 - p_unable) * u
    kq = sp.Min(R, sp.ceiling(sp.log(1 - q_) / sp.log(p)))
    return RetryLoop(pmf, p_unable, EN, t_start, t_reaped, t_unable, by_parts, EL, kq,
                     t_start.subs(k_, kq))


def numbers(loop: RetryLoop, params: dict, probs, q: float = 0.99) -> dict:
    """Lambdified closed forms at ``params`` (symbol name -> number, R
    included) for each p in ``probs``: P(unable), E[attempts], E[latency]
    and the q-quantile of kill -> the attempt that ends the loop."""
    probs = np.asarray(probs, float)
    subs = {timing.SYMBOLS[n]: v for n, v in params.items() if n in timing.SYMBOLS}
    out = {}
    for name, e in (("p_unable", loop.p_unable), ("expected_attempts", loop.expected_attempts),
                    ("expected_latency", loop.expected_latency)):
        f = sp.lambdify(p, e.subs(subs), "numpy")
        out[name] = np.broadcast_to(np.asarray(f(probs), float), probs.shape).copy()
    kq = sp.lambdify(p, loop.k_quantile.subs(subs).subs(q_, q), "numpy")
    ts = sp.lambdify(k_, loop.t_start.subs(subs), "numpy")
    ks = np.array([float(kq(x)) for x in probs])
    out["k_quantile"] = ks
    out["quantile_latency"] = np.asarray(ts(ks), float)
    return out


def monte_carlo(params: dict, prob: float, n: int, seed: int) -> dict:
    """Seeded simulation of the retry loop (one row per OOM kill)."""
    rng = np.random.default_rng(seed)
    R_ = int(params["MAX_OOM_REAP_RETRIES"])
    fails = rng.random((n, R_)) < prob
    first_ok = np.where(~fails, np.arange(1, R_ + 1), R_ + 1).min(axis=1)   # R+1 = never
    unable = first_ok > R_
    attempts = np.where(unable, R_, first_ok)
    hz = params["HZ"]
    T0 = params.get("OOM_REAPER_DELAY", 0) / hz + params.get("t_slack", 0)
    a = params.get("t_attempt", 0)
    s = 0.1 + params.get("t_slack", 0)          # schedule_timeout_idle(HZ/10) + lateness
    u = params.get("rss_anon", 0) / params["B_reap"]
    start = T0 + attempts * a + (attempts - 1) * s
    lat = np.where(unable, T0 + R_ * a + R_ * s, start + u)
    return {"p_unable": unable.mean(), "expected_attempts": attempts.mean(),
            "expected_latency": lat.mean(), "attempts": attempts, "latency": lat,
            "start": start}
