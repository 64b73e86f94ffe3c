"""The ``oomnb`` command line: discovers :mod:`oomnb.commands` modules."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import OomnbError

ORDER = ["build", "check", "explain", "bounds", "simulate", "parse", "episodes",
         "collect", "conform", "bench"]


def _commands(only: str | None = None):
    """The command modules (``only``: just that command's, when it is one)."""
    import oomnb.commands as pkg
    if only and only in ORDER:
        mod = importlib.import_module(f"oomnb.commands.{only}")
        if getattr(mod, "NAME", None) == only and hasattr(mod, "run"):
            return [mod]
    import pkgutil
    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"oomnb.commands.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted(mods, key=lambda m: (rank.get(m.NAME, len(ORDER)), m.NAME))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``only``: the one subcommand whose arguments are needed (the
    others are listed, without importing what their arguments need)."""
    parser = argparse.ArgumentParser(
        prog="oomnb",
        description="Reason about the Linux OOM killer and oom_reaper: a kernel model "
        "checked over all interleavings, bounds, timelines, and real OOM traces.",
    )
    parser.add_argument("--version", action="version", version=f"oomnb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands(only):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if only is None or mod.NAME == only:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((a for a in words if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        rc = args._run(args)
    except OomnbError as e:
        print(f"oomnb {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"oomnb {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:   # an unwritable output, a vanished file: one line, no traceback
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"oomnb {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
