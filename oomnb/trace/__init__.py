"""Real OOM evidence: ftrace text and kernel logs -> events and per-victim episodes.

Usage (LISA style)::

    from oomnb import trace
    tr = trace.load(["data/epyc2-cgroup1-linux6.18/"])
    ev = tr.df_events()                 # one row per recognised line
    ep = tr.df_episodes()               # one row per victim (pid + kill)
    off = tr.df_offsets()               # printk - trace per file pair
    mem = tr.df_memcg()                 # memcg usage samples of data-set runs
    tr.df_events(kinds=["wake_reaper"]) # raises MissingEvents when there are none

Readers (chosen per line; ``fmt`` forces one): tracefs ``trace`` /
``trace_pipe`` (with or without the tgid and irq-info columns),
``trace-cmd report`` (instance prefix, ``-R`` raw fields), and kernel logs
in every rendering of :mod:`oomnb.trace.klog` (dmesg plain/-T/-r/-x/iso/-d/-e,
printk caller ids, journalctl short/short-precise/short-iso/json,
syslog/kern.log, console prefixes, raw ``/dev/kmsg`` records, no timestamps;
mail quoting, line numbers, wrapped lines, ``…`` cuts).

Contract: the events table (:func:`df_events`)
---------------------------------------------
One row per recognised line, in input order. Columns:

``machine``, ``run``
    data-set machine label and run directory (``None`` for loose files).
``source``, ``line``
    the file (``-`` for stdin) and 1-based line number of the line.
``format``
    ``ftrace``, ``trace-cmd``, ``trace-cmd-raw``, ``dmesg``, ``kmsg``,
    ``journal-json``, ``syslog``.
``kind``
    trace events by name: ``mark_victim``, ``wake_reaper``,
    ``start_task_reaping``, ``finish_task_reaping``, ``skip_task_reaping``,
    ``oom_score_adj_update``, ``reclaim_retry_zone``, ``compact_retry``,
    ``signal_generate`` (SIGKILL only), ``sched_process_exit``,
    ``sched_process_free``, ``lost_events``; kernel messages:
    ``oom_invoked`` (the ``invoked oom-killer`` header), ``kill_decision``
    (``Kill process … or sacrifice child``, <=5.0), ``killed``
    (``Killed process``, all versions and the RHEL6/7 forms),
    ``oom_kill_summary`` (``oom-kill:constraint=…``, 4.19+), ``reaped``,
    ``reap_unable``, ``reap_giving_up`` (v4.8), ``mm_pinned``,
    ``already_exiting``, ``no_killable``, ``task_table``, ``task_columns``,
    ``task_row``; ``userspace_kill`` (lmkd, systemd-oomd, earlyoom: not
    kernel kills, never episodes).
``ts``, ``ts_raw``, ``clock``
    the time as a float, as printed, and its clock domain: ``printk``
    (local_clock seconds), ``trace:<trace_clock>`` (``trace:unknown`` when
    neither metadata nor ``trace_clock=`` says; counter clocks ``counter``,
    ``x86-tsc`` stay raw counts), ``wall`` (POSIX seconds of a wall-clock
    stamp; no time zone in the line means UTC is assumed),
    ``wall-noyear`` (a syslog or journal stamp without a year and no
    ``year=``: seconds from 1 January, good for order within the file only),
    ``reltime:<file>`` (``dmesg -e`` deltas summed from the file's start),
    or ``none`` (``ts`` NaN).
``wall``
    the wall-clock time the line carries (ISO 8601 text), else ``None``
    (also when the line prints no year: never a partial timestamp).
``pid``, ``comm``
    the process the line is about (the victim for kill and reap lines; for
    ``oom_invoked`` ``comm`` is the allocating task).
``total_vm_kb``, ``anon_rss_kb``, ``file_rss_kb``, ``shmem_rss_kb``, ``pgtables_kb``, ``uid``, ``oom_score_adj``
    the fields of the line (``reaped``: the RSS *after* the reap).
``gfp_mask``, ``gfp_flags``, ``order``, ``nodemask``
    of ``oom_invoked`` (``order`` also of ``compact_retry`` and
    ``reclaim_retry_zone``).
``constraint``, ``oom_memcg``, ``task_memcg``
    of ``oom_kill_summary``.
``context``, ``score``
    the ``%s:`` before a kill line (``Memory cgroup out of memory``), the
    badness score of ``kill_decision``.
``sig``, ``code``, ``group_dead``, ``cpu``, ``task``, ``task_pid``
    trace fields (``group_dead`` None for the pre-2025 ``sched_process_exit``).
``level``, ``caller``
    log level and printk caller id (``T1234``/``C3``) where shown.
``truncated``
    the line was cut off (``…``, a dangling field); its fields are partial.
``in_run``
    False for a log row of a data-set run that precedes the run's trace
    (aligned with the run's own offset): an earlier kill repeated by a
    ``dmesg`` tail. Such rows make no episode of that run.
``dup``
    this log row repeats an earlier one (same machine, kind, clock,
    timestamp, pid and message; the copy inside its run is kept): episodes
    use the kept copy.
``detail``, ``raw``
    other fields as ``key=value`` text; the line itself (joined wrapped lines
    separated by a newline).

Contract: the episodes table (:func:`df_episodes`)
-------------------------------------------------
One row per victim: per machine, a pid's events are cut into episodes at
each new kill (pid reuse gives separate episodes). Columns
(:data:`oomnb.trace.episodes.EPISODE_COLUMNS`):

``machine``, ``run``, ``scenario``, ``limit_bytes``, ``pid``, ``episode`` (0, 1, … per pid), ``comm``
    (``scenario`` and ``limit_bytes`` from the data-set run's ``meta.json``).
``outcome``
    ``reaped``, ``unable`` (``unable to reap``/``giving up``), ``skipped``
    (only ``skip_task_reaping``), ``self-exit`` (trace shows the kill and the
    victim's exit/free but no reaper at all: on 6.x no ``wake_reaper``),
    ``joined`` (the reaper ran while the victim's own ``exit_mmap`` was under
    way and unmapped only the rest: memcg usage fell by more than 25 % of the
    victim's anon RSS between the kill and the reaper's start), ``unknown``.
``evidence``
    ``trace+log``, ``trace``, ``log-only`` (no trace for this victim, e.g. a
    kill repeated in a ``dmesg`` tail) or ``reap-only`` (seen only through a
    reap line).
``listed_victim``
    the run's ``meta.json`` lists this pid in ``victim_pids`` (True/False;
    None when the metadata has no list).
``clock``, ``time_unit``
    the domain of the time columns (the trace's; for log-only episodes the
    log's) and ``s`` or ``counts``.
``signal``, ``kill``, ``wake``, ``reap_start``, ``reap_finish``, ``skip``, ``exit_start``, ``exit_mm_done``, ``free``
    raw trace timestamps of ``signal_generate``, ``mark_victim``,
    ``wake_reaper``, ``start_task_reaping``, ``finish_task_reaping``,
    ``skip_task_reaping``, ``sched_process_exit`` (``exit_start`` when it has
    ``group_dead``: it fires before ``exit_mm``; ``exit_mm_done`` when it has
    not: it fires after; never mixed), ``sched_process_free``. Log-only
    episodes have ``kill`` from the log.
``kill_printk``, ``reaped_printk``, ``unable_printk``, ``kill_wall``
    raw printk timestamps of the kill, ``reaped`` and ``unable`` lines; the
    kill line's wall-clock text.
``offset_s``, ``offset_anchor``
    ``printk - trace`` used to match this episode's log and trace lines
    (kill anchors preferred), see :func:`df_offsets`.
``kill_to_wake``, ``kill_to_reap_start``, ``reap_duration``, ``kill_to_exit_start``, ``kill_to_exit_mm_done``, ``kill_to_free``, ``reap_finish_to_free``
    differences of the trace times (one domain); ``kill_to_reaped_printk``
    within printk.
``anon_rss_kb`` … ``pgtables_kb``, ``uid``, ``victim_oom_score_adj``
    at the kill (the ``Killed process`` line, else ``mark_victim``);
    ``anon_rss_after_kb`` … from ``oom_reaper: reaped process``.
``invoker_comm``, ``gfp_mask``, ``gfp_flags``, ``order``, ``oom_score_adj``, ``nodemask``
    from the ``invoked oom-killer`` header before the kill (the allocating
    task's ``oom_score_adj``); ``constraint``, ``oom_memcg``,
    ``task_memcg`` from the summary line; ``selected_pid``,
    ``selected_comm``, ``score`` from ``Kill process … or sacrifice child``.
``reap_attempts``, ``memcg_drop_before_reap``, ``lost_events``, ``note``
``sources``
    ``column=file:line`` for every value taken from a line.

Errors: unreadable or binary files raise :class:`oomnb.errors.OomnbError`
naming the file; every OOM-looking line that cannot be parsed is in
``Trace.unparsed`` (``strict=True`` raises on the first).
"""

from __future__ import annotations

from .api import MissingEvents, Trace, data_dir, df_episodes, df_events, df_offsets, load

__all__ = ["Trace", "load", "data_dir", "df_events", "df_episodes", "df_offsets", "MissingEvents"]
