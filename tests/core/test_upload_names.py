"""Names of uploaded files are cleaned wherever they appear: on disk, on pages, in download headers."""

import os
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reviewapp.core.filenames import upload_name_clean
from reviewapp.literature.models import Import
from reviewapp.literature.services import import_create, import_run
from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

RIS = b"TY  - JOUR\nTI  - Stopping natalizumab\nPY  - 2019\nER  - \n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
HOSTILE = [
    "../../etc/passwd",
    'a"b\r\nX-Header: y.pdf',
    "n" * 500 + ".pdf",
    "<script>alert(1)</script>.pdf",
    "<img src=x onerror=alert(1)>.pdf",
    "..\\..\\windows\\win.ini",
    "evil\u202efdp.exe",
    "\x00\x1b[31m.pdf",
]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ('a"b\r\nX-Header: y.pdf', "a_b X-Header_ y.pdf"),
        ("<script>alert(1)</script>.ris", "script_.ris"),
        ("C:\\Users\\me\\PubMed export.xml", "PubMed export.xml"),
        ("Étude de cohorte (2019).ris", "Étude de cohorte (2019).ris"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("..", "file"),
        ("   ", "file"),
        (".hidden.ris", "hidden.ris"),
        (None, "file"),
    ],
)
def test_a_name_keeps_its_readable_part_and_loses_the_rest(name, expected):
    assert upload_name_clean(name) == expected


def test_an_overlong_name_is_cut_keeping_its_extension():
    cleaned = upload_name_clean("n" * 500 + ".pdf")
    assert len(cleaned) == 120 and cleaned.endswith("nnn.pdf")


@pytest.mark.parametrize("name", HOSTILE)
def test_no_cleaned_name_holds_anything_harmful(name):
    cleaned = upload_name_clean(name)
    assert cleaned and len(cleaned) <= 120
    assert not any(c in cleaned for c in "/\\\"'<>\r\n\x00\u202e")
    assert cleaned.isprintable() and not cleaned.startswith(".")


def _named(data: bytes, name: str) -> BytesIO:
    # Not SimpleUploadedFile: that cuts the name the way Django's upload handling does, and the
    # import command and other callers hand the service whatever name they have.
    fileobj = BytesIO(data)
    fileobj.name = name  # type: ignore[attr-defined]
    fileobj.size = len(data)  # type: ignore[attr-defined]
    return fileobj


def _assert_safe_header(value: str):
    assert "\r" not in value and "\n" not in value
    # One quoted filename, or the RFC 5987 form, with nothing after it.
    if "filename*=" in value:
        assert value.count('"') == 0
    else:
        assert value.count('"') == 2 and value.endswith('"')


@pytest.mark.parametrize("name", HOSTILE)
def test_an_import_stores_shows_and_sends_back_a_clean_name(
    client, review, owner, media_root, name
):
    imp = import_create(
        membership=membership_of(owner, review), fileobj=_named(RIS, name), file_name=name
    )
    import_run(import_id=imp.pk)
    imp.refresh_from_db()
    assert imp.file_name == upload_name_clean(name, default="upload")
    on_disk = Path(imp.file.path).resolve()
    assert on_disk.is_relative_to(Path(media_root).resolve() / "imports")
    assert on_disk.read_bytes() == RIS
    client.force_login(owner)
    page = client.get(reverse("literature:source-list", args=[review.slug])).content.decode()
    assert imp.file_name.replace("&", "&amp;") in page
    assert "<script>" not in page and "<img src=x" not in page
    response = client.get(reverse("literature:import-rejections-csv", args=[review.slug, imp.pk]))
    assert response.status_code == 200
    _assert_safe_header(response["Content-Disposition"])
    assert "X-Header" not in response.headers


def test_a_name_stored_before_cleaning_is_cleaned_in_the_download_header(client, review, owner):
    imp = import_create(
        membership=membership_of(owner, review), fileobj=_named(RIS, "x.ris"), file_name="x.ris"
    )
    Import.objects.filter(pk=imp.pk).update(file_name='a"b\r\nX-Header: y.ris')
    client.force_login(owner)
    response = client.get(reverse("literature:import-rejections-csv", args=[review.slug, imp.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="a_b X-Header_ y-rejected.csv"'


@pytest.fixture
def included(review, reviewer, records):
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    return records[0]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_full_text_stores_shows_and_sends_back_a_clean_name(
    client, review, reviewer, included, media_root, name
):
    upload = SimpleUploadedFile("x.pdf", PDF, content_type="application/pdf")
    upload.name = name  # bypass Django's own trimming, as a non-HTTP caller would
    report = report_upload(
        membership=membership_of(reviewer, review), record=included, upload=upload
    )
    assert report.original_filename == upload_name_clean(name, default="full-text.pdf")
    on_disk = Path(report.file.path).resolve()
    assert on_disk.is_relative_to(Path(media_root).resolve() / "fulltext")
    assert os.path.basename(report.file.name).isprintable()
    client.force_login(reviewer)
    page = client.get(
        reverse("screening:screen", args=[review.slug, "ft"]) + f"?record={included.pk}"
    ).content.decode()
    assert "<script>" not in page and "<img src=x" not in page
    response = client.get(reverse("screening:report-file", args=[review.slug, report.pk]))
    assert response.status_code == 200
    _assert_safe_header(response["Content-Disposition"])
    assert response["Content-Disposition"].startswith("inline")


def test_a_name_with_quotes_and_markup_through_a_real_multipart_upload(client, review, owner):
    """RFC 2231 filename* lets a client send any character; Django keeps quotes and markup."""
    name = 'rep"ort<b>bold</b &quot;x&quot;.ris'
    boundary = "BoUnDaRy"
    parts = []
    for key, value in {"format": "auto", "source_kind": "database"}.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{quote(name)}\r\nContent-Type: text/plain\r\n\r\n"
    )
    body = "".join(parts).encode() + RIS + f"\r\n--{boundary}--\r\n".encode()
    client.force_login(owner)
    response = client.generic(
        "POST",
        reverse("literature:import-create", args=[review.slug]),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 302
    imp = Import.objects.get(review=review)
    # Django's parser unescaped the entities and kept what followed the last '/'.
    assert imp.file_name == "b _x_.ris"
    response = client.get(reverse("literature:import-rejections-csv", args=[review.slug, imp.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="b _x_-rejected.csv"'
