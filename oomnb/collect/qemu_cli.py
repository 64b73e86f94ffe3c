"""``oomnb collect --kernel-image ...``: the host side (plan, dry run, boot, summary)."""

from __future__ import annotations

import sys

from ..errors import OomnbError, Refused
from . import qemu


def guest_collect_args(args, scenarios: list[str]) -> list[str]:
    """The guest's ``oomnb collect`` arguments: the same scenario options as on the command line."""
    out = ["--scenario", ",".join(scenarios), "--limit", args.limit, "--runs", str(args.runs),
           "--aio-nr", str(args.aio_nr), "--lift-after", str(args.lift_after), "--threads", str(args.threads), "--dstate-bytes", args.dstate_bytes]
    if args.watchdog is not None:
        out += ["--watchdog", str(args.watchdog)]
    if args.virtio_disk:
        out += ["--device", qemu.VIRTIO_DEVICE]
    elif args.device:
        out += ["--device", args.device]
    return out


def run_in_qemu(args, scenarios: list[str], limits: list[int]) -> int:
    kernel = qemu.resolve_kernel(args.kernel_image, args.kernel_config)
    plan = qemu.build_plan(kernel, args.cgroup, scenarios, limits, args.runs, args.out,
                           guest_collect_args(args, scenarios), qemu_opts=args.qemu_opts, memory=args.qemu_memory,
                           freezer=args.freezer, virtio_disk=args.virtio_disk)
    tool_probs, have = qemu.tool_problems()
    if args.dry_run:
        for line in qemu.plan_lines(plan, have, tool_probs):
            print(line)
        if tool_probs or plan.problems:
            print(f"oomnb collect: cannot boot: {'; '.join(tool_probs + plan.problems)}", file=sys.stderr)
            return Refused.exit_code
        return 0
    if tool_probs or plan.problems:
        for p in tool_probs + plan.problems:
            print(f"oomnb collect: refused: {p}", file=sys.stderr)
        raise Refused(f"{len(tool_probs) + len(plan.problems)} precondition(s) missing (see above)")
    for line in qemu.plan_lines(plan, have, []):
        print(line, file=sys.stderr)
    res = qemu.boot(plan, have["vng"], have)
    if res["new_runs"]:
        qemu.record_boot(plan.out, res, plan)
    from pathlib import Path

    from .dataset import write_manifest
    if res["new_runs"] and (Path(plan.out) / "machine.json").exists():
        write_manifest(Path(plan.out))
    print(f"oomnb collect: guest {kernel.release} ended (exit {res['rc']}) after {res['wall_s']:.1f} s; "
          f"{len(res['new_runs'])} new run(s) in {plan.out}", file=sys.stderr)
    if res["rc"] != 0:
        raise OomnbError(f"the guest's collector failed (exit {res['rc']}); see its output above")
    return 0
