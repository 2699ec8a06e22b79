"""Request bodies and uploads bounded before they are read.

Django reads a multipart body whole, streaming its files to memory or to temporary files, as soon
as anything touches `request.POST` (the CSRF check does, for every POST), and only then can a
form look at a file's size. So the bounds are set per view before the body is parsed:

- `RequestBodyLimitMiddleware` refuses a body whose declared length is more than the view takes
  (413), without reading a byte of it. Django reads no more than the declared length, so this
  bounds what any request can make the server read.
- `LimitedUploadHandler` refuses any file sent to a view that takes none (400) as soon as the
  part starts, and stops keeping a file at the view's limit while the rest streams past; the
  form then sees a file over its limit and says so, with the other fields kept.

A view that takes files says how large with `@accepts_upload(max_file_bytes=...)`.
"""

import io
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Set on a view by @accepts_upload; copied onto the decorators around it by functools.wraps.
_ALLOWANCE = "upload_max_file_bytes"
# Set on the request by the middleware, read by the upload handler.
_REQUEST_ALLOWANCE = "upload_max_file_bytes"


def accepts_upload(*, max_file_bytes: int) -> Callable:
    """Let a view take uploaded files of up to `max_file_bytes` bytes in all."""

    def mark(view: Callable) -> Callable:
        setattr(view, _ALLOWANCE, max_file_bytes)
        return view

    return mark


class UploadRefused(SuspiciousOperation):
    """A file was sent to a page that takes none (Django answers 400)."""


def body_limit(file_allowance: int) -> int:
    """The most bytes a request body may declare: the form fields' bound plus the files'."""
    fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return fields + file_allowance


class RequestBodyLimitMiddleware:
    """Refuse a body larger than its view takes before reading it; tell the handler the bound.

    Placed before CsrfViewMiddleware, whose `process_view` is the first to read the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> HttpResponse | None:
        allowance = getattr(view_func, _ALLOWANCE, 0)
        setattr(request, _REQUEST_ALLOWANCE, allowance)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = body_limit(allowance)
        if declared > limit:
            context = {"limit_mb": _megabytes(limit), "file_mb": _megabytes(allowance)}
            return render(request, "413.html", context, status=413)
        return None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


class LimitedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: no file where the view takes none, none kept past its bound.

    Within the bound, the chunks pass on to Django's own handlers, which keep the file.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.allowance = getattr(request, _REQUEST_ALLOWANCE, 0)
        self.received = 0
        self.oversized = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if not self.allowance:
            raise UploadRefused(
                f"A file ({self.file_name}) was sent to {getattr(self.request, 'path', 'a page')}, "
                "which takes none."
            )
        self.oversized = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.oversized or self.received > self.allowance:
            # Keep nothing more: the rest of this file streams past (the body's declared length,
            # already bounded, limits how much) and the form hears how large it was.
            self.oversized = True
            return None
        return raw_data

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
        if not self.oversized:
            return None  # Django's own handlers hand over the file
        # An empty stand-in that is over the bound, so the form refuses it with its own message.
        return InMemoryUploadedFile(
            io.BytesIO(b""),
            self.field_name,
            self.file_name,
            self.content_type,
            max(file_size, self.allowance + 1),
            self.charset,
            self.content_type_extra,
        )
