"""Files the web app hands out as downloads: CSV written while it is sent (docs/csv.md), for
the admin's pages and the API alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse


class CsvResponse(StreamingResponse):
    """A CSV file, streamed; its type is what the API's OpenAPI document says it answers."""

    media_type = "text/csv"
    charset = "utf-8"


def csv_download(chunks: AsyncIterator[bytes], filename: str) -> CsvResponse:
    """`chunks` as a file the browser saves under `filename`."""
    return CsvResponse(
        chunks, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
