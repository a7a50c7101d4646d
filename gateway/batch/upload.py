"""``POST /v1/files``' multipart body, parsed as it streams: the file part goes straight to
storage under ``GATEWAY_BATCH_MAX_FILE_BYTES`` and is never held whole in memory, nor
spooled twice (the 64 MiB request-body cap is for requests, not uploads).

    form = UploadForm(request.headers["content-type"])
    size = await blobs.save(file_id, form.file_chunks(request.stream()), limit)
    form.fields["purpose"], form.filename
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import ErrorCode, GatewayError

__all__ = ["FIELD_MAX_BYTES", "UploadForm"]

FIELD_MAX_BYTES = 1024
"""A form field other than the file (``purpose``) is short; a longer one is refused."""


def _bad(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, param=param, code=ErrorCode.INVALID_VALUE)


class UploadForm:
    """One multipart upload: its text fields and its one file part (named ``file``)."""

    def __init__(self, content_type: str) -> None:
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise _bad("send the file as multipart/form-data with a 'file' part and 'purpose'")
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_parts = 0
        self._pending: list[bytes] = []
        self._header_field = b""
        self._header_value = b""
        self._name: str | None = None
        self._part_filename: str | None = None
        self._value = bytearray()
        self._error: GatewayError | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._name, self._part_filename, self._value = None, None, bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            _, params = parse_options_header(self._header_value)
            name, filename = params.get(b"name"), params.get(b"filename")
            self._name = name.decode("utf-8", "replace") if name is not None else None
            if filename is not None:
                self._part_filename = filename.decode("utf-8", "replace")
        self._header_field, self._header_value = b"", b""

    def _is_file(self) -> bool:
        return self._name == "file" and self._part_filename is not None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file():
            if self.file_parts == 0:
                self._pending.append(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > FIELD_MAX_BYTES and self._error is None:
            self._error = _bad(f"form field {self._name!r} is too long", self._name)

    def _part_end(self) -> None:
        if self._is_file():
            self.file_parts += 1
            if self.file_parts == 1:
                self.filename = self._part_filename
            elif self._error is None:
                self._error = _bad("send one file per upload", "file")
        elif self._name is not None:
            self.fields[self._name] = self._value.decode("utf-8", "replace")

    def _feed(self, chunk: bytes | None) -> None:
        """One chunk to the parser (None: the end); a malformed body is a 400."""
        try:
            if chunk is None:
                self._parser.finalize()
            else:
                self._parser.write(chunk)
        except Exception:
            raise _bad("the multipart body is malformed") from None

    async def file_chunks(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """Parse ``body``; yield the file part's bytes as they arrive."""
        async for chunk in body:
            self._feed(chunk)
            if self._error is not None:
                raise self._error
            if self._pending:
                data, self._pending = b"".join(self._pending), []
                yield data
        self._feed(None)
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            yield data
        if self._error is not None:
            raise self._error
