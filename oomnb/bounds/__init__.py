"""Bounded-termination arguments, derived from the model.

* :mod:`oomnb.bounds.engine`: the one bound engine (longest paths with
  vector weights in an explored state graph); the checker's step-count
  bounds (``oomnb check``: attempts, timer expiries) and the time bounds
  both come out of it.
* :mod:`oomnb.bounds.rank`: ranking functions as lexicographic tuples of
  state components, with per-transition moves proved by sympy and
  checked on every explored edge.
* :mod:`oomnb.bounds.derive`: the four bounds (kill until the OOM killer
  may select again, until the victim's memory is unmapped, until
  ``oom_killer_disable()`` can return, until the reaper reaps or gives
  up) per kernel and scenario, as sympy expressions over the symbols of
  :mod:`oomnb.kernel.timing`; ``oo`` with the checker's cycle where a
  fair path never gets there.
* :mod:`oomnb.bounds.markov`: the retry loop with a trylock that fails
  with probability ``p`` (absorbing Markov chain, ``p**R``).
* :mod:`oomnb.bounds.table`, :mod:`oomnb.bounds.show`,
  :mod:`oomnb.bounds.measured`: records, tables, LaTeX, the comparison
  with the latencies measured in ``data/``.

Example::

    from oomnb.bounds import derive
    d = derive.derive("v6.18", "mmap-lock-forever+second-oom", "select_again")
    d.expr, d.jiffies(), d.reason
"""
