"""Job artefacts in the artefact storage: written whole, then recorded with sha256 and size.

The artefact storage (``webapp.storage.artefact_storage``) is a root of its own, apart from
the images and without any URL: weights, configs naming every collector and per-collector
test values are read by code, never sent to a browser.

Every artefact lives under jobs/<job id>/attempt-<n>/ so two attempts (or two jobs) never
write over each other, and an Artefact row is created only after every byte is stored:
a crash mid-write leaves an orphan file at worst, never a row naming half a model.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path, PurePosixPath

from django.core.files.base import File

from webapp.jobs.models import Artefact, TrainingJob
from webapp.storage import artefact_storage


class ArtefactError(OSError):
    """Storage refused an artefact; the message names the path."""


def job_folder(job: TrainingJob) -> PurePosixPath:
    return PurePosixPath("jobs") / str(job.pk) / f"attempt-{job.attempts}"


def _store(local: Path, target: str) -> str:
    """Copy one local file into storage under exactly ``target``."""
    storage = artefact_storage()
    try:
        if storage.exists(target):
            storage.delete(target)
        with local.open("rb") as handle:
            stored = storage.save(target, File(handle))
    except OSError as error:
        raise ArtefactError(f"could not write {target} to the artefact storage: {error}") from error
    if stored != target:
        storage.delete(stored)
        raise ArtefactError(f"storage renamed {target} to {stored}; refusing a second copy")
    return stored


def artefact_save(*, job: TrainingJob, kind: str, local: Path, name: str | None = None) -> Artefact:
    """Store a local file, or every file of a local folder, as one artefact of ``kind``."""
    folder = job_folder(job)
    files = sorted(p for p in local.iterdir() if p.is_file()) if local.is_dir() else [local]
    digest, size = hashlib.sha256(), 0
    target_root = folder / (name or (kind if local.is_dir() else local.name))
    for path in files:
        target = str(target_root / path.name) if local.is_dir() else str(target_root)
        data = path.read_bytes()
        # Folder digests cover names too, so renaming a file changes the checksum.
        digest.update(path.name.encode() + b"\0" + data if local.is_dir() else data)
        size += len(data)
        _store(path, target)
    artefact, _ = Artefact.objects.update_or_create(
        job=job,
        kind=kind,
        defaults={"path": str(target_root), "sha256": digest.hexdigest(), "size": size},
    )
    return artefact


def model_save(*, job: TrainingJob, model, kind: str = Artefact.Kind.MODEL) -> Artefact:
    """A fitted engine model (config.json + weights.safetensors) as the job's served model,
    or (kind EVALUATION_MODEL) as the model its test metrics measured."""
    name = "model" if kind == Artefact.Kind.MODEL else kind
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        return artefact_save(job=job, kind=kind, local=Path(tmp), name=name)


def artefact_share(*, artefact: Artefact, kind: str) -> Artefact:
    """Record already stored files as a second kind of the same job (the evaluated model
    served as it is): one copy of the bytes, two names, the same checksum."""
    shared, _ = Artefact.objects.update_or_create(
        job=artefact.job,
        kind=kind,
        defaults={"path": artefact.path, "sha256": artefact.sha256, "size": artefact.size},
    )
    return shared


def artefacts_delete(*, job: TrainingJob) -> None:
    """Remove every file the job ever wrote (all attempts), then its artefact rows."""
    root = f"jobs/{job.pk}"
    _delete_tree(root)
    job.artefacts.all().delete()


def _delete_tree(root: str) -> None:
    storage = artefact_storage()
    try:
        folders, files = storage.listdir(root)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return
    for name in files:
        storage.delete(f"{root}/{name}")
    for name in folders:
        _delete_tree(f"{root}/{name}")
    try:  # local folders are left empty by storage deletes; remove them when we can
        Path(storage.path(root)).rmdir()
    except (NotImplementedError, OSError):
        pass


def local_checkpoint(job: TrainingJob, stage: str) -> Path:
    """Where the training loop writes its per-epoch checkpoint for ``stage``.

    On a local storage it is the storage file itself (shared with a worker that takes
    over on the same machine or mount); otherwise a local file synced after each epoch.
    """
    name = f"jobs/{job.pk}/checkpoint-{stage}.pt"
    storage = artefact_storage()
    try:
        path = Path(storage.path(name))
    except NotImplementedError:
        path = Path(tempfile.gettempdir()) / "vitrine-checkpoints" / name
        if storage.exists(name) and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(name, "rb") as handle:
                path.write_bytes(handle.read())
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def checkpoint_sync(job: TrainingJob, stage: str, path: Path) -> None:
    """Copy a local checkpoint to remote storage (no-op when storage is local)."""
    name = f"jobs/{job.pk}/checkpoint-{stage}.pt"
    storage = artefact_storage()
    try:
        storage.path(name)
        return
    except NotImplementedError:
        pass
    if path.exists():
        _store(path, name)
