"""Files an import stores wait in a staging folder until its transaction has committed.

An import writes each image and feature-set file into its own folder,
`<storage root>/.staging/<owner>/<target>/<name>` (`VAR_DIR/import-staging/...` for a
storage without local paths, e.g. S3), and moves them to their final names only in a
`transaction.on_commit` callback. A rollback removes the folder; so does a signal
(interrupts.py). The owner, `<host>_<pid>_<process start>_<random>`, lets the next import
tell a folder of a process that is gone (killed with SIGKILL, a power cut): that import
first moves in the files its database rows name (it had committed) and removes the rest.

Final names come from the content (`artworks/<item>-<sha256 prefix>.png`), so a file that is
already there with the same bytes is reused, never stored again beside it with a suffix.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.db import models

from webapp.catalogue.models import Artwork, FeatureSet

STAGING_FOLDER = ".staging"
#: A file in an owner folder that says "settle me": its import stopped after committing.
ABANDONED = "ABANDONED"
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Target:
    """Where a kind of staged file ends up: the storage of `model.field`."""

    label: str  # the sub-folder in an owner folder
    model: type[models.Model]
    field: str

    @property
    def storage(self):
        return self.model._meta.get_field(self.field).storage


IMAGES = Target("images", Artwork, "image")
FEATURE_SETS = Target("feature-sets", FeatureSet, "file")
TARGETS = (IMAGES, FEATURE_SETS)


def staging_root(target: Target) -> Path:
    """Inside the target's storage folder when it has one, so a move is a rename."""
    try:
        return Path(target.storage.path("")) / STAGING_FOLDER
    except NotImplementedError:
        return Path(settings.VAR_DIR) / "import-staging"


# --------------------------------------------------------------------------- owners


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "host"


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks (Linux), so a reused pid is not its owner;
    "0" where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after "pid (comm)"
    except (OSError, IndexError):
        return "0"


def _owner_tag() -> str:
    pid = os.getpid()
    return f"{_host()}_{pid}_{_process_start(pid)}_{uuid.uuid4().hex[:12]}"


def owner_alive(folder: Path) -> bool:
    """Whether the import that made this owner folder may still be running. A folder of
    another host, or one whose name is not an owner tag, counts as alive: left alone."""
    if (folder / ABANDONED).exists():
        return False
    parts = folder.name.rsplit("_", 3)
    if len(parts) != 4 or parts[0] != _host() or not parts[1].isdigit():
        return True
    pid, started = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    now_started = _process_start(pid)
    return "0" in (started, now_started) or now_started == started


# --------------------------------------------------------------------------- one import


class ImportStaging:
    """The staged files of one import: `add` them, then `publish` (after the commit) or
    `discard` (after a rollback)."""

    def __init__(self) -> None:
        self.tag = _owner_tag()
        self.state = "staged"  # then "publishing" -> "published", or "discarded"
        self._files: dict[tuple[str, str], tuple[Target, Path]] = {}

    def add(self, target: Target, name: str, data: bytes) -> None:
        """Stage `data` to become `name` in the target's storage."""
        if (target.label, name) in self._files:  # same name, so the same content
            return
        path = self.folder(target).joinpath(*_name_parts(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:
            handle.write(data)
        self._files[(target.label, name)] = (target, path)

    def folder(self, target: Target) -> Path:
        return staging_root(target) / self.tag / target.label

    def publish(self) -> None:
        """Move every staged file to its final name (an identical file there is kept)."""
        if self.state == "published":
            return
        self.state = "publishing"
        for (_, name), (target, path) in self._files.items():
            file_place(target.storage, name, path)
        self.state = "published"
        self._remove()

    def discard(self) -> None:
        self.state = "discarded"
        self._remove()

    def abandon(self) -> None:
        """Stopped after the commit, part way through publishing: mark the folders so
        the next import moves the rest in."""
        for folder in self._owner_folders():
            if folder.is_dir():
                (folder / ABANDONED).touch()

    def _owner_folders(self) -> set[Path]:
        return {staging_root(target) / self.tag for target in TARGETS}

    def _remove(self) -> None:
        for folder in self._owner_folders():
            shutil.rmtree(folder, ignore_errors=True)


def _name_parts(name: str) -> tuple[str, ...]:
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts):
        raise ValueError(f"not a relative storage name: {name!r}")
    return parts


# --------------------------------------------------------------------------- placing


def _digest(handle) -> str:
    return hashlib.file_digest(handle, "sha256").hexdigest()


def file_place(storage, name: str, staged: Path) -> None:
    """Make `staged` the storage's file `name`: a rename for a local folder, an upload
    otherwise. A file already there with the same bytes is kept; a different one (a
    partial copy from a crash) is replaced."""
    try:
        final = Path(storage.path(name))
    except NotImplementedError:
        final = None
    if final is None:
        if storage.exists(name):
            with storage.open(name, "rb") as there, staged.open("rb") as here:
                if _digest(there) == _digest(here):
                    staged.unlink()
                    return
            storage.delete(name)
        with staged.open("rb") as handle:
            saved = storage.save(name, File(handle, name=name))
        if saved != name:
            storage.delete(saved)
            raise OSError(f"the storage renamed {name} to {saved}; it was not stored")
        staged.unlink()
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_file() and final.stat().st_size == staged.stat().st_size:
        with final.open("rb") as there, staged.open("rb") as here:
            if _digest(there) == _digest(here):
                staged.unlink()
                return
    try:
        os.replace(staged, final)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        # Another file system: copy beside the final name, then rename, so no reader
        # ever sees half a file under it.
        part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
        shutil.copyfile(staged, part)
        os.replace(part, final)
        staged.unlink()
    if getattr(storage, "file_permissions_mode", None) is not None:
        os.chmod(final, storage.file_permissions_mode)


# --------------------------------------------------------------------------- clean-up


def staging_cleanup() -> int:
    """Settle the staging folders whose import is gone; return how many were removed.

    A file whose final name a database row holds belongs to an import that committed and
    was stopped before it had moved it: it is moved in. Every other file is removed.
    """
    removed = 0
    roots = list(dict.fromkeys(staging_root(target) for target in TARGETS))
    for root in roots:
        try:
            owners = [Path(entry.path) for entry in os.scandir(root) if entry.is_dir()]
        except FileNotFoundError:
            continue
        for owner in owners:
            if owner_alive(owner):
                continue
            for target in TARGETS:
                if staging_root(target) == root and (owner / target.label).is_dir():
                    _settle(target, owner / target.label)
            shutil.rmtree(owner, ignore_errors=True)
            removed += 1
    return removed


def _settle(target: Target, folder: Path) -> None:
    staged = {
        path.relative_to(folder).as_posix(): path for path in folder.rglob("*") if path.is_file()
    }
    names = sorted(staged)
    manager = target.model._default_manager
    for start in range(0, len(names), LOOKUP_CHUNK):
        chunk = names[start : start + LOOKUP_CHUNK]
        lookup = {f"{target.field}__in": chunk}
        for name in manager.filter(**lookup).values_list(target.field, flat=True).distinct():
            try:
                file_place(target.storage, name, staged[name])
            except FileNotFoundError:  # another import settled it meanwhile
                pass
