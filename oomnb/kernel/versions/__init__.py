"""The four modelled kernel versions and loading of user versions."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from ...errors import OomnbError
from .v4_5 import KERNEL as V4_5
from .v4_8 import KERNEL as V4_8
from .v4_9 import KERNEL as V4_9
from .v6_18 import KERNEL as V6_18

VERSIONS = {"v4.5": V4_5, "v4.8": V4_8, "v4.9": V4_9, "v6.18": V6_18}

from .v4_19 import KERNEL as V4_19  # noqa: E402
from .v5_15 import KERNEL as V5_15  # noqa: E402
from .v6_1 import KERNEL as V6_1  # noqa: E402

#: the long-term stable kernels people run (oracle: checker/expected/lts.json)
LTS = {"v4.19": V4_19, "v5.15": V5_15, "v6.1": V6_1}
#: every named version, oldest first
ALL = dict(sorted({**VERSIONS, **LTS}.items(),
                  key=lambda kv: tuple(int(x) for x in kv[1].release.split("."))))
#: loadable by name but not part of the standard runs
EXTRA = {"v6.12": "v6_12"}


def load_kernels(spec: str) -> list:
    """``lts`` (the LTS kernels), ``all`` (every named version) or one version."""
    if spec == "lts":
        return list(LTS.values())
    if spec == "all":
        return list(ALL.values())
    return [load_kernel(spec)]


def load_kernel(spec: str):
    """A version name (``v4.9``) or a ``.py`` file that defines ``KERNEL``."""
    if spec in VERSIONS:
        return VERSIONS[spec]
    if spec in LTS:
        return LTS[spec]
    if spec in EXTRA:
        return importlib.import_module(f"{__name__}.{EXTRA[spec]}").KERNEL
    alias = {"4.5": "v4.5", "4.8": "v4.8", "4.9": "v4.9", "6.18": "v6.18"}
    if spec in alias:
        return VERSIONS[alias[spec]]
    if "v" + spec in LTS:
        return LTS["v" + spec]
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
        return k
    raise OomnbError(f"unknown kernel {spec!r} (known: {', '.join(ALL)}, or FILE.py)")
