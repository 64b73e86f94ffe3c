"""oomnb build."""

import sys
from pathlib import Path

NAME = "build"
HELP = "rerun every notebook; export HTML, figures (PDF/SVG/PNG) and build/writeup.txt"
DESCRIPTION = """Execute notebooks/*.ipynb in order, each in a fresh kernel of this
interpreter, against the shipped data in data/, and write build/:

  build/notebooks/   executed notebooks
  build/html/        an HTML rendering of each
  build/figures/     every registered figure as NN-NAME.{pdf,svg,png} in the
                     order of the post (byte-reproducible)
  build/writeup.txt  the linux-mm post: Subject line, plain ASCII, <= 72 columns
  build/provenance.txt  which notebook and block produced each part of it

It then says which figures changed (bytes differ) since the previous build.

--in-place also stores the fresh outputs in notebooks/ (do this before a commit
so that nbval compares against current outputs)."""


def add_arguments(p):
    p.add_argument("--out", default="build", help="output directory (default: build)")
    p.add_argument("--in-place", action="store_true", help="also write the executed notebooks back to notebooks/")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only notebooks whose name contains NAME (repeatable)")


def run(args) -> int:
    from ..build import build

    from ..errors import OomnbError

    out = Path(args.out)
    try:   # an unwritable --out is an error before any notebook runs
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".oomnb-write-test-{__import__('os').getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise OomnbError(f"cannot write the build directory: {e.strerror or e}", path=str(out)) from None

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    res = build(out, in_place=args.in_place, only=args.only, log=log)
    results, ch = res.notebooks, res.figures
    failed = [r for r in results if r.error]
    figs = sorted(p.name for p in (out / "figures").glob("*") if p.suffix in (".pdf", ".svg", ".png"))
    total = sum(r.seconds for r in results)
    print(f"oomnb build: {len(results)} notebooks ({len(failed)} failed) in {total:.1f} s")
    print(f"  {out}/notebooks/  {len(results)} executed notebooks")
    print(f"  {out}/html/       {len(results)} HTML pages")
    print(f"  {out}/figures/    {len(figs)} files ({len(figs) // 3} figures x pdf/svg/png)")
    w = out / "writeup.txt"
    print(f"  {w}  {len(w.read_text().splitlines())} lines")
    print(f"  {out}/provenance.txt")
    if not (ch.changed or ch.new or ch.removed):
        print(f"figures: none changed since the last build ({len(ch.unchanged)} identical)")
    else:
        print(f"figures since the last build: {len(ch.changed)} changed, {len(ch.new)} new, "
              f"{len(ch.removed)} removed, {len(ch.unchanged)} identical")
        for word, names in (("changed", ch.changed), ("new", ch.new), ("removed", ch.removed)):
            for name in names:
                print(f"  {word:8} {name}")
    for line in ch.renumbered:
        print(f"  renumbered {line}")
    if args.in_place:
        print(f"  notebooks/        {len(results) - len(failed)} notebooks updated in place")
    for r in failed:
        print(f"oomnb build: error: {r.path.name}: {r.error}", file=sys.stderr)
    return 1 if failed else 0
