"""Explicit-state checker for :mod:`oomnb.kernel`.

* :mod:`.explore`  BFS with a visited set and parent pointers (shortest
  counterexamples), safety properties on the fly; states keyed by their
  compact codes (:mod:`.codec`), each transition's effect memoised by the
  fields it reads (:mod:`.memo`), tried in the order of a generated plan
  (:mod:`.plan`, pre-checks from :mod:`.guards`); :mod:`.symmetry` for
  the quotient by interchangeable threads.
* :mod:`.liveness` leads-to properties by SCCs under weak / strong / no
  fairness per (actor, transition class), on the flat edge arrays of
  :mod:`.arrays` (scipy.sparse.csgraph).
* :mod:`.run`      verdicts per property, counterexample steps, oracle
  comparison (``oomnb/checker/expected/standard.json``, compared only).
* :mod:`.render`   herd7-style verdict lines, TLC-style statistics,
  numbered steps, 72-column ASCII swimlanes.
* :mod:`.plots`    tables and figures for notebooks/01-interleavings.
* :mod:`.bench`    ``oomnb bench check`` (states/s).
* ``DIFFERENCES.md`` the reviewed verdicts, the kernel trees they were
  checked in, and where the model departs from expectations.
"""
