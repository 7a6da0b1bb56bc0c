"""Writing a run folder: a new folder claimed for ``nlpzoo train``, no symlink in it, and the lock a training process
holds on it.
``nlpzoo.runs.lock_is_held`` reads the same lock from any process."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nlpzoo import ConfigError
from nlpzoo.runs import LOCK_FILE


def claim_run_dir(root: str | os.PathLike, stem: str) -> Path:
    """A new, empty folder ``root/<stem>-<time>`` made by this process; never one another command made.

    Two identical commands in the same second get ``...-<time>`` and ``...-<time>-2``: the folder is
    created with a plain mkdir, which only one process can win.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ConfigError(f"could not find a free run folder name under {root}", "--run-dir")


class RunLock:
    """The lock a process holds on a run folder while it writes there: ``.lock``, flock'd for the process's life.

    The kernel releases the lock when the holder exits however it dies, so a lock left by a killed
    process is stale and taken over; a live holder makes :meth:`acquire` refuse, naming its pid.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK_FILE
        self.fd: int | None = None
        self.created_dir = False

    def acquire(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock on this platform: run unlocked
            return self
        self.created_dir = not self.dir.exists()
        while True:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:  # a read-only or full disk, a file where the folder should be
                from nlpzoo.yamlio import WriteError, write_failure

                raise WriteError(f"cannot write the run folder's lock: {write_failure(exc)}", self.path, exc.errno) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise ConfigError(f"{self.dir} is in use by another nlpzoo process ({holder}); wait for it to end, "
                                  "or choose another --run-dir", "--run-dir") from None
            except BaseException:
                os.close(fd)
                raise
            try:  # the file may have been removed and made again since we opened it: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        record = json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             "host": os.uname().nodename if hasattr(os, "uname") else ""})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode("utf-8"), 0)
        except OSError:  # a full disk: the lock holds all the same, only its record of who is missing
            pass
        self.fd = fd
        return self

    def release(self, remove_empty_dir: bool = False) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a waiting process re-checks the inode
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
        if remove_empty_dir and self.created_dir:
            try:
                self.dir.rmdir()
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"pid {int(info['pid'])}, since {info.get('started', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown: it is just starting"


def refuse_symlinks(run_dir: str | os.PathLike) -> None:
    """A run folder that nlpzoo writes into holds no symlinks: it never writes through one to outside."""
    root = Path(run_dir)
    if not root.is_dir():
        return
    for path in [root, *sorted(root.rglob("*"))]:
        if path != root and path.is_symlink():
            raise ConfigError(f"is a symlink (to {os.readlink(path)}); a run folder holds none, and nlpzoo never "
                              "writes through one: remove it, or train into another --run-dir", file=str(path))
