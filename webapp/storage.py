"""The second storage root: what jobs write, kept apart from the images.

Images (originals, thumbnails, kept search photos) live in the default storage and reach
a browser only through the login-checked views of ``webapp.curation.views.files``.
Model weights, checkpoints, evaluations and feature sets live in ``storages["artefacts"]``:
a folder of its own (``VITRINE_ARTEFACTS_ROOT``) or another S3 prefix, with no URL at
all, because nothing there is ever meant for a browser; code reads it with ``open()``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.functional import cached_property

ARTEFACTS = "artefacts"


class ArtefactStorage(FileSystemStorage):
    """A local folder (``VITRINE_ARTEFACTS_ROOT`` unless ``location`` is given) that
    refuses to make URLs, so no template or admin page can link to an artefact."""

    def __init__(self, location=None, **kwargs) -> None:
        kwargs.pop("base_url", None)  # never served: a URL would only mislead
        super().__init__(location=location, **kwargs)

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.VITRINE_ARTEFACTS_ROOT)

    def _clear_cached_properties(self, setting, **kwargs) -> None:
        # Follow a changed VITRINE_ARTEFACTS_ROOT (tests give each test its own folder),
        # as FileSystemStorage follows MEDIA_ROOT.
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "VITRINE_ARTEFACTS_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name):
        raise ValueError(f"{name} is a job artefact: artefacts are never served by URL")


def artefact_storage() -> Storage:
    """The storage of job artefacts and feature sets (also FeatureSet.file's storage)."""
    return storages[ARTEFACTS]


def storage_tree_move(*, source: Storage, target: Storage, root: str) -> int:
    """Move every file under ``root`` from ``source`` to ``target`` under the same names;
    return how many moved. Safe to run again after a crash: a copy in ``target`` that
    is whole (same size) only removes the source file, a partial one is copied again."""
    try:
        folders, files = source.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    moved = 0
    for name in files:
        _file_move(source, target, f"{root}/{name}")
        moved += 1
    for folder in folders:
        moved += storage_tree_move(source=source, target=target, root=f"{root}/{folder}")
    try:  # a local source keeps its emptied folders; remove them when it can
        Path(source.path(root)).rmdir()
    except (NotImplementedError, OSError):
        pass
    return moved


def _file_move(source: Storage, target: Storage, name: str) -> None:
    if target.exists(name):
        if target.size(name) == source.size(name):
            source.delete(name)
            return
        target.delete(name)
    try:  # two local folders: a rename, unless they are on different file systems
        destination = Path(target.path(name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source.path(name), destination)
        return
    except (NotImplementedError, OSError):
        pass
    with source.open(name, "rb") as handle:
        saved = target.save(name, handle)
    if saved != name:
        target.delete(saved)
        raise OSError(f"the artefact storage renamed {name} to {saved}; nothing was moved")
    source.delete(name)
