"""The four standard kernel versions, the LTS kernels (v4.19, v5.15, v6.1),
the named extra ones (6.12, v4.8 without 74070542099c, candidate fixes of
6.18) and loading of user versions."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from ...errors import OomnbError
from .v4_5 import KERNEL as V4_5
from .v4_8 import KERNEL as V4_8
from .v4_9 import KERNEL as V4_9
from .v4_19 import KERNEL as V4_19
from .v5_15 import KERNEL as V5_15
from .v6_1 import KERNEL as V6_1
from .v6_18 import KERNEL as V6_18

VERSIONS = {"v4.5": V4_5, "v4.8": V4_8, "v4.9": V4_9, "v6.18": V6_18}
#: the long-term stable kernels people run (oracle: checker/expected/lts.json)
LTS = {"v4.19": V4_19, "v5.15": V5_15, "v6.1": V6_1}
#: every named version of the two sets, oldest first
ALL = dict(sorted({**VERSIONS, **LTS}.items(),
                  key=lambda kv: tuple(int(x) for x in kv[1].release.split("."))))
#: loadable by name but not part of the standard runs
EXTRA = {"v6.12": "v6_12", "v4.8-no74070542099c": "v4_8_no74070542099c",
         "v6.18+group-oom-victims": "v6_18_group_oom_victims",
         "v6.18+tif-exempt": "v6_18_tif_exempt",
         # --- robust futex
         "v6.18+robust-futex-delay": "v6_18_robust_delay"}


def load_kernels(spec: str) -> list:
    """``lts`` (the LTS kernels), ``all`` (the standard and LTS versions) or one version."""
    if spec.strip().lower() == "lts":
        return list(LTS.values())
    if spec.strip().lower() == "all":
        return list(ALL.values())
    return [load_kernel(spec)]


def load_kernel(spec: str):
    """A version name (``v4.9``, ``4.9``, ``V4.9``: case-insensitive, the ``v``
    optional) or a ``.py`` file that defines ``KERNEL``."""
    name = "v" + spec.strip()[1:] if spec.strip()[:1] in ("v", "V") else "v" + spec.strip()
    if not name.endswith(".py"):
        name = {n.lower(): n for n in [*VERSIONS, *LTS, *EXTRA]}.get(name.lower(), name)
    if name in VERSIONS:
        return VERSIONS[name]
    if name in LTS:
        return LTS[name]
    if name in EXTRA:
        return importlib.import_module(f"{__name__}.{EXTRA[name]}").KERNEL
    p = Path(spec)
    if p.suffix == ".py":
        if not p.is_file():
            raise OomnbError("no such file", path=spec)
        modspec = importlib.util.spec_from_file_location(f"oomnb_user_kernel_{p.stem}", p)
        mod = importlib.util.module_from_spec(modspec)
        try:
            modspec.loader.exec_module(mod)
        except Exception as e:  # a user's file: report, no traceback
            raise OomnbError(f"cannot load: {type(e).__name__}: {e}", path=spec) from None
        k = getattr(mod, "KERNEL", None)
        if k is None:
            raise OomnbError("defines no KERNEL (use VERSION.derive(...))", path=spec)
        from ..kernel import Kernel
        if not isinstance(k, Kernel):
            raise OomnbError(f"KERNEL is a {type(k).__name__}, not a kernel version "
                             "(use VERSION.derive(...))", path=spec)
        return k
    raise OomnbError(f"unknown kernel {spec!r} (known: {', '.join(known_names())}, or FILE.py)")


def known_names() -> list[str]:
    """Every version name ``--kernel`` accepts, oldest first."""
    from ...events import release
    return sorted([*VERSIONS, *LTS, *EXTRA], key=release)
