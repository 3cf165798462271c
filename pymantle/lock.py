"""One writer per output folder: an advisory lock that a killed process cannot leave behind.

`pymantle run`, `campaign`, `train` and `evaluate` each hold `DirectoryLock(folder)` while
they write there. The lock is `flock` on the file `.pymantle.lock` inside the folder: the
kernel drops it when the holding process ends, however it ends (kill -9 included), so a
stale lock never blocks a rerun, while a second live process is refused at once, before it
writes anything, with one line naming the folder and the holder's pid.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .config import ConfigError

LOCK_NAME = ".pymantle.lock"


class FolderBusy(ConfigError):
    """Another live process holds the folder's lock."""


class DirectoryLock:
    def __init__(self, folder, what: str = "output folder"):
        self.folder, self.what = Path(folder), what
        self._fd: int | None = None

    def acquire(self) -> "DirectoryLock":
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"{self.what} {str(self.folder)!r} is a file, not a folder; "
                              "choose another folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"{self.what} {str(self.folder)!r} cannot be written "
                              f"({exc.strerror}); choose another folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise FolderBusy(f"{self.what} {str(self.folder)!r} is in use by another pymantle "
                             f"process (pid {holder}); wait for it to end or choose another "
                             "folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
