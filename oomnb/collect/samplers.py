"""Background samplers on CLOCK_MONOTONIC: memcg usage and the victim's kernel stacks."""

from __future__ import annotations

import os
import threading
import time


def mono() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class MemcgSampler(threading.Thread):
    """``monotonic_s,usage_bytes`` every ``interval`` seconds until stop()."""

    def __init__(self, usage_file: str, interval: float = 0.002):
        super().__init__(name="oomnb-memcg", daemon=True)
        self.usage_file = usage_file
        self.interval = interval
        self.rows: list[tuple[float, int]] = []
        self._halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            fd = os.open(self.usage_file, os.O_RDONLY)
        except OSError as e:
            self.error = str(e)
            return
        try:
            while not self._halt.is_set():
                try:
                    v = int(os.pread(fd, 64, 0))
                except (OSError, ValueError) as e:
                    self.error = str(e)
                    break
                self.rows.append((mono(), v))
                self._halt.wait(self.interval)
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)

    def csv(self) -> str:
        return "monotonic_s,usage_bytes\n" + "".join(f"{t:.6f},{v}\n" for t, v in self.rows)


def read_task(pid: int, tid: int) -> tuple[str, str, str] | None:
    """(state letter, comm, kernel stack) of one thread, or None once it is gone."""
    base = f"/proc/{pid}/task/{tid}"
    try:
        with open(base + "/stat") as f:
            st = f.read()
        with open(base + "/stack") as f:
            stack = f.read()
    except OSError:
        return None
    r = st.rfind(")")
    comm = st[st.find("(") + 1:r]
    state = st[r + 2:r + 3]
    return state, comm, stack


def tids_of(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


class StackSampler(threading.Thread):
    """Samples ``/proc/<pid>/task/*/stack`` (and the thread state) of the given pids.

    Output (``stacks.txt``)::

        # oomnb stacks: ...
        @ <monotonic_s> pid=<tgid> tid=<tid> state=<R|S|D|Z|...> comm=<comm>
        [<0>] exit_aio+0x.../0x...
        ...
        (blank line)

    A sample identical to the previous one of the same thread is written as a
    single ``@ ... same`` line.
    """

    def __init__(self, pids: list[int], interval: float = 0.005):
        super().__init__(name="oomnb-stacks", daemon=True)
        self.pids = list(pids)
        self.interval = interval
        self.out: list[str] = []
        self.last: dict[int, tuple[str, str]] = {}
        self.states: dict[int, list[tuple[float, str]]] = {}
        self._halt = threading.Event()

    def add_pid(self, pid: int) -> None:
        self.pids.append(pid)

    def sample_once(self) -> int:
        n = 0
        for pid in list(self.pids):
            for tid in tids_of(pid):
                t = mono()
                got = read_task(pid, tid)
                if got is None:
                    continue
                n += 1
                state, comm, stack = got
                self.states.setdefault(tid, []).append((t, state))
                key = (state, stack)
                if self.last.get(tid) == key:
                    self.out.append(f"@ {t:.6f} pid={pid} tid={tid} state={state} comm={comm} same\n")
                else:
                    self.last[tid] = key
                    self.out.append(f"@ {t:.6f} pid={pid} tid={tid} state={state} comm={comm}\n{stack}\n")
        return n

    def run(self) -> None:
        while not self._halt.is_set():
            if self.sample_once() == 0 and self.pids and all(not os.path.exists(f"/proc/{p}") for p in self.pids):
                break
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)

    def text(self) -> str:
        head = ("# oomnb stacks: /proc/<pid>/task/<tid>/stack and state sampled every "
                f"{self.interval * 1000:.0f} ms; times are CLOCK_MONOTONIC seconds; "
                "'same' = identical to this thread's previous sample\n")
        return head + "".join(self.out)

    def seen(self, func: str) -> bool:
        return any(func in line for line in self.out)
