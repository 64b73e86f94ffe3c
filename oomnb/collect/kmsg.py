"""The kernel log from a cursor taken at the start (``/dev/kmsg``; never cleared)."""

from __future__ import annotations

import errno
import os
import re
import time

from ..errors import OomnbError

_REC = re.compile(rb"^(\d+),(\d+),(\d+),([^;]*);(.*)$", re.S)


class KmsgReader:
    def __init__(self, path: str = "/dev/kmsg"):
        self.path = path
        self.fd: int | None = None
        self.records: list[bytes] = []
        self.lost = 0  # EPIPE: records overwritten before we read them

    def open(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            raise OomnbError(f"cannot open {self.path}: {e.strerror}")
        os.lseek(self.fd, 0, os.SEEK_END)  # the cursor: only records from now on

    def poll(self) -> list[bytes]:
        """Read every record available now; returns the new ones."""
        new = []
        while self.fd is not None:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:
                    self.lost += 1
                    continue
                raise
            if not rec:
                break
            new.append(rec)
        self.records.extend(new)
        return new

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def text(self) -> bytes:
        return b"".join(self.records)


def parse_record(rec: bytes) -> tuple[int, int, int, str] | None:
    """(prio, seq, usec, message first line) of one raw record, or None."""
    m = _REC.match(rec)
    if not m:
        return None
    msg = m.group(5).split(b"\n", 1)[0].decode("utf-8", "replace")
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), msg


def write_marker(reader: KmsgReader, text: str, timeout: float = 1.0) -> dict:
    """Write ``text`` to /dev/kmsg between two CLOCK_MONOTONIC reads; find its record.

    Returns {mono_before, mono_after, printk_s, offset_s (printk - monotonic), uncertainty_s}
    or {"error": ...} (e.g. printk_devkmsg=off or rate limited).
    """
    try:
        fd = os.open("/dev/kmsg", os.O_WRONLY)
    except OSError as e:
        return {"error": f"open /dev/kmsg for writing: {e.strerror}"}
    try:
        t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
        os.write(fd, text.encode())
        t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
    except OSError as e:
        return {"error": f"write /dev/kmsg: {e.strerror}"}
    finally:
        os.close(fd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in reader.poll():
            p = parse_record(rec)
            if p and p[3].endswith(text.strip()):
                usec = p[2]
                mid = (t0 + t1) / 2
                return {"mono_before": t0, "mono_after": t1, "printk_s": usec / 1e6,
                        "offset_s": usec / 1e6 - mid, "uncertainty_s": (t1 - t0) / 2 + 1e-6}
        time.sleep(0.005)
    return {"error": "marker record not seen in /dev/kmsg (printk_devkmsg rate limit?)"}
