"""A loop device on a sparse backing file named ``oomnb-...`` (for throttled reads)."""

from __future__ import annotations

import os
import subprocess
import tempfile

from ..errors import OomnbError
from .cgroups import retry


class LoopDevice:
    def __init__(self, name: str, size_bytes: int = 64 << 20, directory: str | None = None):
        if not name.startswith("oomnb-"):
            raise ValueError("backing file names start with oomnb-")
        self.backing = os.path.join(directory or tempfile.gettempdir(), name + ".img")
        self.size = size_bytes
        self.device: str | None = None
        self.devnum: str | None = None  # "maj:min"

    def create(self) -> None:
        fd = os.open(self.backing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, self.size)  # sparse: reads of holes cost no memory
        finally:
            os.close(fd)
        r = subprocess.run(["losetup", "--find", "--show", self.backing], capture_output=True, text=True)
        if r.returncode != 0:
            raise OomnbError(f"losetup --find --show {self.backing}: {r.stderr.strip()}")
        self.device = r.stdout.strip()
        st = os.stat(self.device)
        self.devnum = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"

    def attached(self) -> list[str]:
        r = subprocess.run(["losetup", "-j", self.backing], capture_output=True, text=True)
        return [line.split(":", 1)[0] for line in r.stdout.splitlines() if line.strip()]

    def detach(self) -> None:
        for dev in self.attached() or ([self.device] if self.device and os.path.exists(self.backing) else []):
            def _d(dev=dev):
                r = subprocess.run(["losetup", "-d", dev], capture_output=True, text=True)
                if r.returncode != 0 and dev in self.attached():
                    raise OSError(16, r.stderr.strip() or "losetup -d failed")
            retry(_d, f"losetup -d {dev}")
        self.device = None

    def remove_backing(self) -> None:
        def _rm():
            try:
                os.unlink(self.backing)
            except FileNotFoundError:
                pass
        retry(_rm, f"rm {self.backing}")
