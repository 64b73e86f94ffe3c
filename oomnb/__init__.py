"""oomnb: reason about the Linux OOM killer and the oom_reaper.

One model of the victim / oom_reaper protocol (``oomnb.kernel``) shared by
the interleaving checker, the bounds, the simulator and the trace
conformance check; readers for real evidence (``oomnb.trace``); a safe
collector of real OOM kills (``oomnb.collect``); and notebooks tying them
together, rebuilt by ``oomnb build``.
"""

__version__ = "0.1.0"
