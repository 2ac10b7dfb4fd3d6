"""An upload handler for photos that are searched with and then forgotten.

Django's default handlers spill an upload over FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, less
than a phone photo) to a temporary file on disk; a photo searched with must leave nothing
behind, so this one keeps every file in memory and skips one larger than its limit
instead of writing it anywhere.
"""

from __future__ import annotations

import io

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

#: A photo larger than this is refused while it arrives. Lower than the import's file
#: limit (MAX_IMAGE_BYTES) because a request holds the whole file in memory; a phone
#: photo is a few megabytes. The pixel and decompression-bomb checks are the import's.
PHOTO_MAX_BYTES = 32 * 1024 * 1024


class PhotoUploadHandler(FileUploadHandler):
    """Files into memory, each up to max_bytes; a larger one is skipped (the rest of the
    form still arrives) and named in ``refused`` as (file name, reason)."""

    def __init__(self, request=None, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = int(PHOTO_MAX_BYTES if max_bytes is None else max_bytes)
        self.refused: list[tuple[str, str]] = []
        self.buffer: io.BytesIO | None = None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.max_bytes:
            self.buffer = None
            self.refused.append(
                (self.file_name or "", f"larger than the limit of {self.max_bytes:,} bytes")
            )
            raise SkipFile()
        self.buffer.write(raw_data)
        return None  # no later handler gets the bytes

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
        if self.buffer is None:
            return None
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
