"""Storing a file the caller has open on disk without reading it through Python.

Django's FileSystemStorage saves an open file by reading it in 64 KB chunks and writing each one:
for a 900 MB import file (issue 13) that was two copies through user space per byte. When the file
is a real file on disk and the storage keeps files on disk too, `disk_copy` copies it into the
storage's directory inside the kernel (`os.copy_file_range`) and hands Django a file with a
`temporary_file_path`, which FileSystemStorage moves into place (a rename, same file system) with
its own naming and permission rules. Anything else (an upload held in memory, another storage,
a kernel or file system that cannot copy so) is saved the usual way.

A browser's upload of a large file arrives as Django's TemporaryUploadedFile, a file Django
deletes at the end of the request: that one is not copied at all but moved into place (a rename)
when it lies on the storage's file system, as FileSystemStorage does with such files. Copying
it cost 1.5-3.5 s of a 900 MB import's time on the benchmark machine, in the upload request.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

_CHUNK = 1 << 30


class _CopiedFile(File):
    """A copy in the storage's directory, which FileSystemStorage moves rather than streams."""

    def __init__(self, file, *, name: str, path: str):
        super().__init__(file, name=name)
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


def _fileno(fileobj) -> int | None:
    try:
        return fileobj.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _movable(storage: Storage, fileobj) -> bool:
    """Whether `fileobj` is a temporary file of Django's that `storage` can rename into place."""
    temporary = getattr(fileobj, "temporary_file_path", None)
    if not callable(temporary) or not isinstance(storage, FileSystemStorage):
        return False
    try:
        return os.stat(temporary()).st_dev == os.stat(storage.location).st_dev
    except OSError:
        return False


@contextmanager
def disk_copy(storage: Storage, fileobj, name: str) -> Iterator[File]:
    """A File for `storage.save` with `fileobj`'s whole content (Django's File reads an open
    file from its start too)."""
    if isinstance(storage, FileSystemStorage):
        # Both the move and the copy land in the storage's folder, which may not exist yet.
        os.makedirs(storage.location, exist_ok=True)
    if _movable(storage, fileobj):
        # Django's own upload temporary: the storage moves it (its naming and permission rules
        # apply), and Django's clean-up at the end of the request finds it gone, as it expects.
        yield fileobj
        return
    source = _fileno(fileobj)
    if source is None or not isinstance(storage, FileSystemStorage):
        yield File(fileobj, name=name)
        return
    copy = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
        dir=storage.location, prefix=".upload-", delete=False
    )
    try:
        try:
            offset = 0
            while copied := os.copy_file_range(source, copy.fileno(), _CHUNK, offset_src=offset):
                offset += copied
            copied_whole = True
        except OSError:
            # Not a regular file, or no in-kernel copy between these file systems.
            copied_whole = False
        copy.flush()
        yield (
            _CopiedFile(copy, name=name, path=copy.name)
            if copied_whole
            else File(fileobj, name=name)
        )
    finally:
        copy.close()
        # Moved into place by the storage, unless saving failed or the copy was not used.
        with suppress(FileNotFoundError):
            os.unlink(copy.name)
