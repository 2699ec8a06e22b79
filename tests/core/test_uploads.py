"""Request bodies and uploads are bounded before they are read (core/uploads.py)."""

import http.client
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers import bulk
from consumers.forms import BulkRefreshForm
from consumers.models import BulkRefresh
from tests.conftest import CONSUMER_REF

LOGIN = reverse("login")
BULK = reverse("consumers:bulk_new")
FIFTY_MB = 50 * 1024 * 1024


def _post_head_only(live_server, path: str, *, length: int, body: bytes) -> tuple[int, str]:
    """Declare a body of `length` bytes, send only its first bytes, and read the answer."""
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    boundary = "b0undary"
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    connection.send(body)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_upload_to_the_sign_in_page_is_refused_before_it_is_read(live_server):
    part = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 1024
    )
    # Only 1 KB of the declared 50 MB is ever sent: an answer proves nothing waited for the rest.
    status, text = _post_head_only(live_server, LOGIN, length=FIFTY_MB, body=part)
    assert status == 413
    assert "Nothing was read or saved." in text


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_upload_to_the_bulk_page_is_refused_before_it_is_read(live_server, agent):
    status, text = _post_head_only(live_server, BULK, length=FIFTY_MB, body=b"--b0undary\r\n")
    assert status == 413
    assert "files of up to 2 MB" in text


def test_a_file_sent_to_a_page_that_takes_none_is_refused(agent_client, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # anything kept would go to a temporary file
    upload = SimpleUploadedFile("notes.txt", b"hello" * 1000, content_type="text/plain")
    response = agent_client.post(LOGIN, {"username": "agent", "file": upload})
    assert response.status_code == 400
    assert "such as a file" in response.content.decode()
    assert list(tmp_path.iterdir()) == []


def test_a_file_over_the_bulk_pages_limit_is_refused_with_the_pasted_refs_kept(agent_client):
    big = SimpleUploadedFile(
        "refs.csv", b"x" * (BulkRefreshForm.MAX_FILE_BYTES + 1), content_type="text/csv"
    )
    response = agent_client.post(BULK, {"refs": CONSUMER_REF, "csv_file": big})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The file is larger than 2 MB; split it." in page
    assert CONSUMER_REF in page
    assert not BulkRefresh.objects.exists()


def test_a_file_within_the_bulk_pages_limit_is_taken(agent_client):
    upload = SimpleUploadedFile("refs.csv", f"ref\n{CONSUMER_REF}\n".encode(), "text/csv")
    response = agent_client.post(BULK, {"csv_file": upload})
    assert response.status_code == 302
    assert BulkRefresh.objects.get().total == 1


def test_a_csv_with_a_200_kb_cell_gets_a_clear_message(agent_client):
    data = f"ref,notes\n{CONSUMER_REF},{'x' * 200_000}\n".encode()
    upload = SimpleUploadedFile("refs.csv", data, content_type="text/csv")
    response = agent_client.post(BULK, {"csv_file": upload})
    assert response.status_code == 200
    assert "Line 2 of the file could not be read as CSV" in response.content.decode()
    assert not BulkRefresh.objects.exists()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=4096) | st.text(max_size=2048).map(str.encode))
def test_any_uploaded_bytes_give_refs_or_a_reason_never_an_error(data):
    try:
        refs = bulk.refs_from_csv(data)
    except bulk.ValidationError as error:
        refs, reason = [], error.messages
    else:
        reason = []
    assert bool(refs) != bool(reason)
