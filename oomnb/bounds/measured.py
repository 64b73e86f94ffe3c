"""The v6.18 bounds against every latency measured in ``data/``.

Each episode of the shipped data is compared with the bound of the model
scenario its collector scenario maps to (:data:`oomnb.model.SCENARIOS`),
evaluated with the parameters calibrated from the episodes of its own
machine at their slow end (:func:`oomnb.bounds.derive.default_params`)
and with its own anonymous RSS:

* kill -> ``start_task_reaping``: the ``reap_started`` bound;
* kill -> ``finish_task_reaping``: the ``reaper_done`` bound;
* kill -> "oom_reaper: unable to reap" (the reaper gave up): ``reaper_done``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import model
from ..kernel import load_kernel
from . import derive as D

KERNEL = "v6.18"


def _bound_expr(name, scenario):
    return D.derive(KERNEL, scenario, name).expr


def measured(kernel: str = KERNEL) -> pd.DataFrame:
    """One row per episode that reached the reaper: its latencies, the
    bounds and whether each latency lies under its bound."""
    k = load_kernel(kernel)
    ep = D._episodes().copy()
    rows = []
    for _, e in ep.iterrows():
        sc = model.model_scenario(str(e["scenario"]))
        if sc is None:
            continue
        start = e["kill_to_reap_start"]
        finish = start + e["reap_duration"] if pd.notna(start) else np.nan
        unable = (e["unable_printk"] - e["kill"]) if pd.notna(e.get("unable_printk")) else np.nan
        if not (pd.notna(start) or pd.notna(unable)):
            continue
        prm = D.default_params(k, sc, str(e["machine"]))
        prm["rss_anon"] = float(e["anon_rss_kb"]) * 1024
        b_start = D.evaluate(k, _bound_expr("reap_started", sc), prm)
        b_done = D.evaluate(k, _bound_expr("reaper_done", sc), prm)
        rows.append({"machine": e["machine"], "scenario": e["scenario"], "model": sc.key,
                     "outcome": e["outcome"], "anon_rss_bytes": prm["rss_anon"],
                     "kill_to_reap_start": start, "kill_to_reap_finish": finish,
                     "kill_to_unable": unable, "bound_reap_started": b_start,
                     "bound_reaper_done": b_done})
    df = pd.DataFrame(rows)
    df["start_ok"] = df["kill_to_reap_start"].isna() | (df["kill_to_reap_start"]
                                                         <= df["bound_reap_started"])
    df["finish_ok"] = df["kill_to_reap_finish"].isna() | (df["kill_to_reap_finish"]
                                                           <= df["bound_reaper_done"])
    df["unable_ok"] = df["kill_to_unable"].isna() | (df["kill_to_unable"]
                                                      <= df["bound_reaper_done"])
    df["all_ok"] = df["start_ok"] & df["finish_ok"] & df["unable_ok"]
    df["slack_s"] = np.fmin.reduce([df["bound_reap_started"] - df["kill_to_reap_start"].fillna(-np.inf)
                                    .where(df["kill_to_reap_start"].notna(), np.nan),
                                    df["bound_reaper_done"] - df["kill_to_reap_finish"],
                                    df["bound_reaper_done"] - df["kill_to_unable"]])
    return df


def summary(df: pd.DataFrame) -> dict:
    n = {"kill_to_reap_start": int(df["kill_to_reap_start"].notna().sum()),
         "kill_to_reap_finish": int(df["kill_to_reap_finish"].notna().sum()),
         "kill_to_unable": int(df["kill_to_unable"].notna().sum())}
    return {"episodes": len(df), "latencies": n, "all_under": bool(df["all_ok"].all()),
            "violations": int((~df["all_ok"]).sum()),
            "smallest_margin_s": float(df["slack_s"].min())}


def figure(df: pd.DataFrame):
    """Measured kill -> reaper start / finish / give-up against the bounds,
    per machine, over the victim's anonymous RSS."""
    import matplotlib.pyplot as plt

    from .. import report
    report.use_style()
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = load_kernel(KERNEL)
    for i, (m, g) in enumerate(df.groupby("machine", sort=True)):
        c = colors[i % len(colors)]
        short = str(m).split("-")[0]
        ax.scatter(g["anon_rss_bytes"] / 2**30, g["kill_to_reap_start"], marker="o", s=14,
                   color=c, label=f"{short}: kill -> reap start")
        ax.scatter(g["anon_rss_bytes"] / 2**30, g["kill_to_reap_finish"], marker="^", s=16,
                   facecolors="none", edgecolors=c, label=f"{short}: kill -> reap finish")
        if g["kill_to_unable"].notna().any():
            ax.scatter(g["anon_rss_bytes"] / 2**30, g["kill_to_unable"], marker="x", s=20,
                       color=c, label=f"{short}: kill -> gave up")
        xs = np.geomspace(df["anon_rss_bytes"].min(), df["anon_rss_bytes"].max(), 50)
        sc = sorted(set(g["model"]))
        prm = D.default_params(k, None, str(m))
        ys = []
        for x in xs:
            prm["rss_anon"] = float(x)
            ys.append(max(D.evaluate(k, _bound_expr("reaper_done", s), prm) for s in sc))
        ax.plot(xs / 2**30, ys, "--", color=c, lw=1)
        ax.axhline(max(D.evaluate(k, _bound_expr("reap_started", s), prm) for s in sc),
                   color=c, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("victim's anonymous RSS (GiB)")
    ax.set_ylabel("seconds after the kill")
    ax.set_title("v6.18 bounds (dashed: reaper done, dotted: reap start) and measurements")
    ax.legend(ncol=2, fontsize=6.5, loc="upper left")
    return fig
