"""``oomnb collect``: controlled, safe, real memcg OOM kills recorded with the kernel's own tracepoints.

Modules: :mod:`.cgroups` (v1 and v2 backends), :mod:`.tracefs` (an instance
of our own), :mod:`.loopdev`, :mod:`.kmsg` (cursor reader, printk marker),
:mod:`.samplers` (memcg usage, kernel stacks), :mod:`.metadata`,
:mod:`.runner` (one run, cleanup, watchdog), :mod:`.dataset` (machine.json,
manifest) and ``victim.py`` (the victim program, stdlib only).
"""
