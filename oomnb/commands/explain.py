"""``oomnb explain``: what a model transition, property or version says."""

from __future__ import annotations

NAME = "explain"
HELP = "print a model transition's (or property's, version's) citation and abstraction"
DESCRIPTION = """\
Print what the kernel model says about NAME: for a transition (its key
or kernel function name, e.g. exit_mm, oom_reap_task, __oom_reap_task_mm)
the docstring with its citation, actor, timing kind, fairness and lock;
for a property its kernel claim; for a version its flags.  Without NAME,
list everything that can be explained.

examples:
  oomnb explain exit_mm
  oomnb explain __oom_reap_task_mm
  oomnb explain disable_contract[tif]
  oomnb explain v4.9
"""


def add_arguments(p):
    p.add_argument("name", nargs="?", help="transition key, kernel function, property or version")
    p.add_argument("--kernel", default=None, help="also show the function names of this version")


def run(args) -> int:
    import dataclasses

    from ..errors import OomnbError
    from ..kernel.properties import BY_NAME, EXTRA_BY_NAME, MECH_BY_NAME
    PROPS = {**BY_NAME, **EXTRA_BY_NAME, **MECH_BY_NAME}
    from ..kernel.transitions import TRANSITIONS, fairness_of, transitions_for
    from ..kernel.versions import ALL as VERSIONS
    from ..kernel.versions import known_names, load_kernel

    wrap = _wrap

    if not args.name:
        print("transitions:")
        for t in TRANSITIONS:
            print(f"  {t.key:28s} {t.name}")
        print("kernel functions inside transitions:")
        for h, (_, inside) in _helpers().items():
            print(f"  {h:28s} in {', '.join(inside)}")
        print("properties:")
        for p in PROPS:
            print(f"  {p}")
        print("versions:")
        for v in known_names():
            print(f"  {v}")
        return 0
    name = args.name
    vname = "v" + name.strip().lstrip("vV")
    if vname in known_names() or name.endswith(".py"):
        k = load_kernel(name)
        print(f"{k.name}: {k.describe}")
        print(wrap(f"source: {k.cite}"))
        for f in dataclasses.fields(k):
            if f.name in ("name", "describe", "cite", "notes"):
                continue
            v = getattr(k, f.name)
            print(f"  {f.name:30s} {getattr(v, '__name__', v)}")
        return 0
    from ..kernel.properties import GROUPS
    if name in PROPS or name in GROUPS:
        for p in (GROUPS[name] if name in GROUPS else [PROPS[name]]):
            print(f"{p.name} ({p.shape})")
            print(wrap(p.claim))
        return 0
    hits = [t for t in TRANSITIONS if name in (t.key, t.name)]
    for v in VERSIONS.values():
        hits += [t for t in TRANSITIONS if v.fn_name(t) == name and t not in hits]
    helpers = _helpers()
    if not hits and name not in helpers:
        raise OomnbError(f"nothing named {name!r} (try `oomnb explain` for the list)")
    if name in helpers:
        fn, inside = helpers[name]
        print(f"{name}: a kernel function folded into the transition(s) {', '.join(inside)}")
        print(wrap(fn.__doc__ or ""))
        print()
    kernels = [load_kernel(args.kernel)] if args.kernel else list(VERSIONS.values())
    for t in hits:
        ks = [k for k in kernels if t in transitions_for(k)]
        print(f"{t.key}: {t.name}   (in: {', '.join(k.name for k in ks) or 'none'})")
        print(f"  actor: {t.actor}   kind: {t.kind}   lock: {t.lock or '-'}")
        print(wrap("fairness: " + ", ".join(f"{k.name}={fairness_of(t, k)}" for k in ks)))
        names = {k.name: k.fn_name(t) for k in ks}
        if len(set(names.values())) > 1:
            print(wrap("function per version: " + ", ".join(f"{a}={b}" for a, b in names.items())))
        print(wrap(f"delay: {t.delay.cls} ({t.delay.name}); per version: "
                   + ", ".join(f"{k.name}={_delay_text(t, k)}" for k in ks)))
        _print_observations(t, ks)
        print(wrap(f"cites: {t.cite}"))
        print(wrap(t.doc))
        print()
    return 0


def _wrap(text, indent="  "):
    import textwrap
    paras = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n".join(textwrap.fill(p, 72, initial_indent=indent, subsequent_indent=indent)
                     for p in paras)


def _delay_text(t, k) -> str:
    """The step's duration as a formula in seconds for version ``k``."""
    return str(t.delay.expr(k))


def _print_observations(t, ks) -> None:
    """What the step shows per version: abstract observation -> lines."""
    from ..kernel.observe import possible
    rows = {k.name: possible(k, t) for k in ks}
    if not any(rows.values()):
        print("  observations: none (a silent step)")
        return
    print("  observations (branch: lines the version emits):")
    for name, obs in rows.items():
        parts = [f"{o}: {'+'.join(ln) if ln else '(nothing)'}" for o, ln in obs.items()]
        print(_wrap(f"{name}: " + "; ".join(parts), indent="    "))


def _helpers():
    """Kernel functions that the model folds into larger atomic steps."""
    from ..kernel import transitions as tr

    oom = ["out_of_memory", "victim_out_of_memory"]
    return {
        "select_bad_process": (tr.select_bad_process, ["out_of_memory"]),
        "oom_evaluate_task": (tr.select_bad_process, ["out_of_memory"]),
        "oom_scan_process_thread": (tr.select_bad_process, ["out_of_memory"]),
        "oom_kill_process": (tr.kill_victim, ["out_of_memory"]),
        "find_lock_task_mm": (tr.find_lock_task_mm, ["out_of_memory", "oom_reaper (v4.8)"]),
        "mark_oom_victim": (tr.mark_oom_victim, oom),
        "wake_oom_reaper": (tr.wake_oom_reaper, oom),
        "queue_oom_reaper": (tr.wake_oom_reaper, oom),
        "freezing_slow_path": (tr.freezing, ["try_to_freeze", "try_to_freeze_tasks"]),
    }
