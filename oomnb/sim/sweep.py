"""Parameter sweeps: versions x scenarios x RSS x trylock failure x laws.

Each point of the grid is one :func:`oomnb.sim.engine.run` with its own
seed derived from the sweep's seed and the point's index
(``numpy.random.SeedSequence([seed, index])``), so the result of a point
does not depend on where it ran: local processes
(:class:`concurrent.futures.ProcessPoolExecutor`, the default), this
process (``processes=1``) or a Dask cluster (``dask="tcp://host:8786"``
or a ``distributed.Client``; ``pip install oomnb[dask]``) give identical
tables for the same seed.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pandas as pd

from ..errors import OomnbError


def grid(kernels, scenarios, *, rss=(None,), p_trylock=(None,), laws=None) -> list:
    """The points of a sweep: ``{"kernel", "scenario", "laws"}`` dicts.
    ``rss`` sets ``rss_anon=const:X``; ``p_trylock`` makes the mmap lock
    held forever with that probability, else released at once
    (``lock_hold=bernoulli:P,never``; use it with a ``mmap-lock``
    scenario)."""
    pts = []
    for k, sc, r, p in itertools.product(kernels, scenarios, rss, p_trylock):
        lw = dict(laws or {})
        if r is not None:
            lw["rss_anon"] = f"const:{r}"
        if p is not None:
            lw["lock_hold"] = f"bernoulli:{p},never"
        pts.append({"kernel": k, "scenario": sc, "laws": lw, "rss": r, "p_trylock": p})
    return pts


def point_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _run_point(task):
    from . import engine, laws as lawmod
    from .output import summary
    i, pt, base, runs, seed, horizon = task
    k = pt["kernel"]
    c = engine.compile_graph(k, pt["scenario"])
    lw = dict(base)
    lw.update({n: lawmod.parse(s, values=getattr(base.get(n), "values", ()), name=n)
               for n, s in pt["laws"].items()})
    eps = engine.run(c, lw, runs, point_seed(seed, i), horizon=horizon)
    s = summary(eps)
    row = {"kernel": s["kernel"], "scenario": s["scenario"], "rss": pt.get("rss"),
           "p_trylock": pt.get("p_trylock"), "runs": runs, "seed": eps.seed}
    for name, q in s["latency_s"].items():
        row[f"{name}_median"] = q.get("median", np.nan)
        row[f"{name}_p95"] = q.get("p95", np.nan)
        row[f"{name}_reached"] = q["reached"]
    for key in ("premature_second_kill_rate", "second_kill_rate", "unable_to_reap_rate"):
        row[key] = s[key]
    row["reap_attempts_mean"] = s["reap_attempts"]["mean"]
    return i, row


def sweep(points, *, runs: int = 1000, seed: int = 0, laws=None, calibration=None,
          horizon: float = 60.0, processes: int | None = None, dask=None,
          progress: bool = False) -> pd.DataFrame:
    """Run every point (see :func:`grid`) and return one row per point."""
    from . import laws as lawmod
    base = lawmod.resolve(laws, calibration=calibration)
    tasks = [(i, pt, base, runs, seed, horizon) for i, pt in enumerate(points)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit="point", desc="sweep")
    rows = {}
    try:
        if dask is not None:
            rows = _on_dask(dask, tasks, bar)
        elif processes == 1 or len(tasks) == 1:
            for t in tasks:
                i, row = _run_point(t)
                rows[i] = row
                if bar:
                    bar.update()
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed
            with ProcessPoolExecutor(max_workers=processes or os.cpu_count()) as ex:
                for f in as_completed([ex.submit(_run_point, t) for t in tasks]):
                    i, row = f.result()
                    rows[i] = row
                    if bar:
                        bar.update()
    finally:
        if bar:
            bar.close()
    return pd.DataFrame([rows[i] for i in sorted(rows)])


def _on_dask(dask, tasks, bar) -> dict:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise OomnbError("--dask needs dask.distributed (pip install 'oomnb[dask]')") from None
    own = isinstance(dask, str)
    try:
        client = Client(dask, timeout=10) if own else dask
    except OSError as e:
        raise OomnbError(f"cannot reach the Dask scheduler {dask}: {e}") from None
    try:
        rows = {}
        futs = client.map(_run_point, tasks, pure=False)
        for f in as_completed(futs):
            i, row = f.result()
            rows[i] = row
            if bar:
                bar.update()
        return rows
    finally:
        if own:
            client.close()


__all__ = ["grid", "sweep", "point_seed"]
