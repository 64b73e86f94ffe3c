"""Candidate fix of 6.18: keep thaw_process() of the whole group in
mark_oom_victim(), but restore the TIF_MEMDIE-only freezer exemption of
6.12 in kernel/freezer.c:freezing_slow_path.  A thawed sibling without
TIF_MEMDIE re-checks freezing(current) in __refrigerator and goes back to
sleep while PM or its cgroup is still freezing, so in the model this is
6.12 again: it closes the suspend race and reopens the frozen-sibling one
(``frozen_sibling_exit``).  ``--kernel v6.18+tif-exempt``.
"""

from .v6_18 import KERNEL as V6_18

KERNEL = V6_18.derive(
    "v6.18+tif-exempt",
    describe="v6.18 with thaw_process(group) but the TIF_MEMDIE-only freezer exemption",
    cite="patch on 6.18.2 kernel/freezer.c:freezing_slow_path",
    freeze_exempt="tif",
)
