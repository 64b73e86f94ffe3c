"""Subcommands of the ``oomnb`` CLI.

Each module here defines::

    NAME = "check"                 # the subcommand
    HELP = "one line for oomnb --help"
    def add_arguments(parser): ... # argparse.ArgumentParser of the subcommand
    def run(args) -> int: ...      # exit status; raise OomnbError for user errors

and is discovered automatically by :mod:`oomnb.cli` (keep imports of heavy
modules inside ``run`` so ``oomnb --help`` stays fast).
"""
