"""Storing an open file on disk (reviewapp.core.uploads): the same bytes as Django's own save."""

import io
import os

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile

from reviewapp.core.uploads import disk_copy


def test_a_file_on_disk_is_stored_whole_and_no_copy_is_left_behind(tmp_path):
    path = tmp_path / "records.ris"
    content = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(content)
    with path.open("rb") as fileobj:
        fileobj.read(100)  # Django's save reads an open file from its start, so does this
        with disk_copy(default_storage, fileobj, "records.ris") as copied:
            assert hasattr(copied, "temporary_file_path")
            name = default_storage.save("imports/records.ris", copied)
    with default_storage.open(name, "rb") as stored:
        assert stored.read() == content
    assert oct(os.stat(default_storage.path(name)).st_mode & 0o777) == "0o644"
    leftovers = [n for n in os.listdir(default_storage.location) if n.startswith(".upload-")]
    assert leftovers == []


def test_a_file_in_memory_is_saved_the_usual_way():
    with disk_copy(default_storage, io.BytesIO(b"TY  - JOUR\nER  -\n"), "a.ris") as content:
        assert not hasattr(content, "temporary_file_path")
        name = default_storage.save("imports/a.ris", content)
    with default_storage.open(name, "rb") as stored:
        assert stored.read() == b"TY  - JOUR\nER  -\n"


def test_an_upload_django_spooled_to_disk_is_moved_into_place_not_copied(settings, tmp_path):
    # What a browser's upload of a large import file is by the time the view has it.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    content = os.urandom(2 * 1024 * 1024 + 5)
    upload = TemporaryUploadedFile("big.xml", "application/xml", len(content), None)
    upload.write(content)
    upload.flush()
    upload.seek(0)
    spooled = os.stat(upload.temporary_file_path())
    # Both under pytest's temporary directory (conftest's media_root), so one file system.
    assert spooled.st_dev == os.stat(default_storage.location).st_dev
    with disk_copy(default_storage, upload, "big.xml") as content_file:
        assert content_file is upload
        name = default_storage.save("imports/big.xml", content_file)
    stored = os.stat(default_storage.path(name))
    # The same file (inode), so no byte was copied; its bytes are the upload's.
    assert (stored.st_dev, stored.st_ino) == (spooled.st_dev, spooled.st_ino)
    with default_storage.open(name, "rb") as fileobj:
        assert fileobj.read() == content
    assert oct(stored.st_mode & 0o777) == "0o644"
    upload.close()  # Django's end-of-request clean-up: the temporary file is gone already
    with default_storage.open(name, "rb") as fileobj:
        assert fileobj.read(16) == content[:16]
