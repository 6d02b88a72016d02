"""What every stage does with its output folder: require one, and reuse a finished run of the
same inputs and config (content-addressed: one `_SUCCESS.json` marker holding the fingerprint)."""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path

from overthink.errors import ConfigError, OverthinkError
from overthink.runtime.files import atomic_write_text

DONE_FILE = "_SUCCESS.json"
LOCK_FILE = ".overthink.lock"
_HELD: dict[Path, int] = {}  # folder -> open lock file descriptor, for this process's lifetime


def require_output_dir(output_dir: str | None) -> Path:
    if not output_dir:
        raise ConfigError("no output folder: set --output (output_dir)")
    return Path(output_dir)


def claim_output_dir(folder: Path, stage: str) -> Path:
    """Create `folder` and hold an exclusive lock on it until this process ends (the kernel drops
    it on any exit, kill -9 included): a second run on the same folder at the same time stops
    with one line instead of doing all the work again beside the first. At a normal exit the lock
    file is removed: a finished folder names no holder."""
    import fcntl
    import socket

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if key in _HELD:
        return folder
    while True:
        descriptor = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 200).decode(errors="replace").strip() or "another process"
            os.close(descriptor)
            raise OverthinkError(
                f"{folder} is in use by {holder}: wait for it to finish, or give `overthink {stage}` another --output"
            ) from None
        if _still_at(descriptor, key / LOCK_FILE):
            break
        os.close(descriptor)  # its holder finished and removed it while we opened it: lock the new one
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"`overthink {stage}` (pid {os.getpid()} on {socket.gethostname()})".encode())
    if not _HELD:
        atexit.register(release_output_dirs)
    _HELD[key] = descriptor
    return folder


def _still_at(descriptor: int, path: Path) -> bool:
    try:
        return os.fstat(descriptor).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def holds(folder: Path) -> bool:
    """This process claimed `folder` (claim_output_dir)."""
    return Path(folder).resolve() in _HELD


def release_output_dirs() -> None:
    """Remove the lock files of the folders this process holds, then let go of them (at exit)."""
    for key, descriptor in list(_HELD.items()):
        (key / LOCK_FILE).unlink(missing_ok=True)
        os.close(descriptor)
    _HELD.clear()


def file_identity(path: str | Path) -> dict:
    """What a fingerprint records of an input file: where it is, its size and modification time
    (stages rewrite a file only when its content changes, so unchanged inputs keep their mtime)."""
    return {"path": os.path.abspath(path), "bytes": os.path.getsize(path), "mtime": os.path.getmtime(path)}


class DoneMarker:
    """`_SUCCESS.json` in a stage's output folder: written last, after every output file, so its
    presence with a matching fingerprint means the folder holds a complete run of that config."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / DONE_FILE

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def reusable(self, fingerprint: str, force: bool, what: str) -> dict | None:
        """The marker's record when the folder holds a finished run with this fingerprint."""
        record = self.read()
        if force or record is None or record.get("fingerprint") != fingerprint:
            return None
        print(f"{self.path.parent} already holds {what} (fingerprint {fingerprint}); set force=true to recompute.")
        return record

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def write(self, fingerprint: str, run_id: str | None, **fields) -> None:
        atomic_write_text(self.path, json.dumps({"fingerprint": fingerprint, "run_id": run_id, **fields}))
