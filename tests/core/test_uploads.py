"""Storing an open file on disk (reviewapp.core.uploads): the same bytes as Django's own save."""

import io
import os

from django.core.files.storage import default_storage

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
