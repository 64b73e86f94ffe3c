"""Real-kernel tests (real OOM kills, loop devices, IO throttles) are opt-in.

A test marked ``integration`` runs only when ``OOMNB_REAL_KERNEL_TESTS=1`` is
set (``.ci/run`` sets it); otherwise it is skipped, saying how to opt in.
"""

from __future__ import annotations

import pytest

from collect_helpers import OPT_IN, opted_in


def pytest_collection_modifyitems(config, items):
    if opted_in():
        return
    skip = pytest.mark.skip(reason=f"real-kernel test (real OOM kills): opt in with {OPT_IN}=1")
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(skip)
