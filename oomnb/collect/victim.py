"""The OOM victim run by ``oomnb collect`` (stdlib only, run as a script).

It is started by the collector as ``python3 -u victim.py ROLE [options]`` and
talks over stdin/stdout, one line per message, so that the collector can put
it into its cgroups before it does anything that is charged or throttled:

    victim -> collector   hello PID
    collector -> victim   setup
    victim -> collector   ready KEY=VALUE ...      (scenario set-up done)
    collector -> victim   alloc
    victim                allocates 16 MiB chunks until the kernel kills it

Roles and scenarios:

* ``victim --scenario fast-exit``: allocation only.
* ``victim --scenario aio-blocked --device DEV --aio-nr N``: before
  allocating, submit N O_DIRECT Linux-AIO reads (``io_setup``/``io_submit``
  through ctypes, page-aligned buffers) to DEV, whose reads the collector has
  throttled; its exit then blocks in ``__mmput -> exit_aio``.
* ``victim --scenario dstate-thread --device DEV --dstate-bytes B``: one
  thread loops on a synchronous O_DIRECT ``preadv`` of B bytes on DEV
  (uninterruptible sleep, state D), the main thread allocates.
* ``victim --scenario frozen-victim --hold-bytes B --threads T``: T sleeper
  threads, the main thread allocates B bytes at ``setup`` and then waits; the
  collector freezes its cgroup and a ``trigger`` in the same memory cgroup
  causes the OOM kill.
* ``victim --scenario reaper-trylock-failure --device DEV --region-bytes B``:
  maps the first MiB of DEV (``MAP_SHARED``, never read by the victim) and
  reserves an anonymous region of B bytes (first page touched so its
  ``anon_vma`` exists); at ``alloc`` it fills the region with ``memset``
  (page faults under the per-VMA lock, no ``mmap()`` calls), so it keeps
  allocating while the helpers below block its ``mmap_lock``.
* ``memreader --pid P --addr A``: ``pread`` of ``/proc/P/mem`` at A (the
  victim's device mapping): ``access_remote_vm`` holds P's ``mmap_lock`` for
  read while the page fault waits for the throttled read.
* ``clearrefs --pid P``: writes ``5`` to ``/proc/P/clear_refs``, which waits
  for P's ``mmap_lock`` for write behind the reader; a waiting writer makes
  every ``mmap_read_trylock`` (the oom_reaper's) fail.
* ``trigger --bytes B``: allocate B bytes in 16 MiB chunks, print ``done``,
  wait for stdin to close.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import mmap
import os
import sys
import threading
import time

CHUNK = 16 << 20
PAGE = mmap.PAGESIZE
PR_SET_NAME = 15
IOCB_CMD_PREAD = 0

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _map_addr(m: mmap.mmap) -> int:
    """Address of a read-only mapping (from_buffer needs a writable one): find it in /proc/self/maps."""
    size = len(m)
    with open("/proc/self/maps") as f:
        for line in f:
            rng, perms, off, dev, inode = line.split()[:5]
            lo, hi = (int(x, 16) for x in rng.split("-"))
            if hi - lo == size and perms.startswith("r--s"):
                return lo
    raise RuntimeError("device mapping not found in /proc/self/maps")


def set_comm(name: str) -> None:
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def say(*words) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def expect(word: str) -> None:
    line = sys.stdin.readline()
    if not line:
        os._exit(0)  # collector went away
    if line.strip() != word:
        say("error", "expected", word, "got", line.strip())
        os._exit(2)


def gettid() -> int:
    return threading.get_native_id()


class iocb(ctypes.Structure):  # include/uapi/linux/aio_abi.h, x86_64 / little endian
    _fields_ = [
        ("aio_data", ctypes.c_uint64),
        ("aio_key", ctypes.c_uint32),
        ("aio_rw_flags", ctypes.c_int32),
        ("aio_lio_opcode", ctypes.c_uint16),
        ("aio_reqprio", ctypes.c_int16),
        ("aio_fildes", ctypes.c_uint32),
        ("aio_buf", ctypes.c_uint64),
        ("aio_nbytes", ctypes.c_uint64),
        ("aio_offset", ctypes.c_int64),
        ("aio_reserved2", ctypes.c_uint64),
        ("aio_flags", ctypes.c_uint32),
        ("aio_resfd", ctypes.c_uint32),
    ]


SYS_io_setup = 206
SYS_io_submit = 209


def submit_aio(device: str, nr: int, size: int = 4096) -> tuple[int, list]:
    """Submit ``nr`` O_DIRECT reads of ``size`` bytes at distinct offsets."""
    fd = os.open(device, os.O_RDONLY | os.O_DIRECT)
    ctx = ctypes.c_ulong(0)
    if _libc.syscall(SYS_io_setup, nr, ctypes.byref(ctx)) != 0:
        raise OSError(ctypes.get_errno(), "io_setup")
    buf = mmap.mmap(-1, nr * size)  # page aligned
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    cbs = (iocb * nr)()
    ptrs = (ctypes.POINTER(iocb) * nr)()
    for i in range(nr):
        cbs[i].aio_data = i
        cbs[i].aio_lio_opcode = IOCB_CMD_PREAD
        cbs[i].aio_fildes = fd
        cbs[i].aio_buf = base + i * size
        cbs[i].aio_nbytes = size
        cbs[i].aio_offset = i * size * 2  # distinct, not adjacent: no merging
        ptrs[i] = ctypes.pointer(cbs[i])
    n = _libc.syscall(SYS_io_submit, ctx, nr, ptrs)
    if n < 0:
        raise OSError(ctypes.get_errno(), "io_submit")
    return n, [buf, cbs, ptrs, fd, ctx]  # keep alive


def dstate_thread(device: str, nbytes: int, started: threading.Event, info: dict) -> None:
    set_comm("oomnb-dstate")
    info["tid"] = gettid()
    fd = os.open(device, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, nbytes)
    started.set()
    off = 0
    while True:
        os.preadv(fd, [buf], off)  # O_DIRECT: uninterruptible wait for the bios
        off = (off + nbytes) % (32 << 20)


def sleeper(ev: threading.Event, tids: list) -> None:
    set_comm("oomnb-sleeper")
    tids.append(gettid())
    ev.wait()


def allocate(total: int | None, keep: list) -> None:
    """Touch anonymous memory 16 MiB at a time (forever when ``total`` is None)."""
    ones = b"\x01" * CHUNK
    done = 0
    while total is None or done < total:
        n = CHUNK if total is None else min(CHUNK, total - done)
        m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        m.write(ones[:n])
        keep.append(m)
        done += n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["victim", "trigger", "memreader", "clearrefs"])
    ap.add_argument("--pid", type=int)
    ap.add_argument("--addr", type=int)
    ap.add_argument("--region-bytes", type=int, default=0)
    ap.add_argument("--scenario", default="fast-exit")
    ap.add_argument("--device")
    ap.add_argument("--aio-nr", type=int, default=128)
    ap.add_argument("--dstate-bytes", type=int, default=4 << 20)
    ap.add_argument("--hold-bytes", type=int, default=0)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--bytes", type=int, default=0)
    a = ap.parse_args(argv)
    keep: list = []
    set_comm("oomnb-" + a.role)
    say("hello", os.getpid())
    expect("setup")
    if a.role == "memreader":
        fd = os.open(f"/proc/{a.pid}/mem", os.O_RDONLY)
        n = len(os.pread(fd, 4096, a.addr))
        say("done", n)
        sys.stdin.read()
        return 0
    if a.role == "clearrefs":
        with open(f"/proc/{a.pid}/clear_refs", "w") as f:
            f.write("5")
        say("done")
        sys.stdin.read()
        return 0
    if a.role == "trigger":
        allocate(a.bytes, keep)
        say("done", a.bytes)
        sys.stdin.read()
        return 0
    setup = VICTIMS.get(a.scenario, victim_fast_exit)
    extra, then = setup(a, keep)
    say("ready", *(f"{k}={v}" for k, v in extra.items()))
    expect("alloc")
    then()
    return 0


# --- the victim of each scenario: set-up (returns the ready line's KEY=VALUE and what
# --- to do at "alloc"); the collector's scenario objects (scenarios.py) name them

def victim_fast_exit(a, keep):
    return {}, lambda: allocate(None, keep)


def victim_aio_blocked(a, keep):
    n, k = submit_aio(a.device, a.aio_nr)
    keep.append(k)
    return {"aio_submitted": n}, lambda: allocate(None, keep)


def victim_dstate_thread(a, keep):
    started = threading.Event()
    info: dict = {}
    t = threading.Thread(target=dstate_thread, args=(a.device, a.dstate_bytes, started, info), daemon=True)
    t.start()
    started.wait()
    return {"dstate_tid": info["tid"]}, lambda: allocate(None, keep)


def _forever():
    while True:
        time.sleep(3600)


def victim_frozen(a, keep):
    ev = threading.Event()
    tids: list = []
    for _ in range(a.threads):
        threading.Thread(target=sleeper, args=(ev, tids), daemon=True).start()
    while len(tids) < a.threads:
        time.sleep(0.001)
    allocate(a.hold_bytes, keep)
    return {"held_bytes": a.hold_bytes}, _forever   # frozen by the collector; killed by the trigger's OOM


def victim_reaper_trylock_failure(a, keep):
    dfd = os.open(a.device, os.O_RDONLY)
    dev_map = mmap.mmap(dfd, 1 << 20, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    region = mmap.mmap(-1, a.region_bytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0x4000))
    region[0] = 1  # anon_vma now exists: later faults stay on the per-VMA lock
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    offsets = list(range(PAGE, a.region_bytes - CHUNK, CHUNK))
    keep += [dev_map, region, dfd]

    def fill():
        memset = _libc.memset
        memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        for off in offsets:
            memset(base + off, 1, CHUNK)
        _forever()
    return {"dev_map_addr": _map_addr(dev_map), "region_bytes": a.region_bytes}, fill


VICTIMS = {"fast-exit": victim_fast_exit, "aio-blocked": victim_aio_blocked,
           "dstate-thread": victim_dstate_thread, "frozen-victim": victim_frozen,
           "reaper-trylock-failure": victim_reaper_trylock_failure,
           "suspend-dstate": victim_dstate_thread}


if __name__ == "__main__":
    sys.exit(main())
