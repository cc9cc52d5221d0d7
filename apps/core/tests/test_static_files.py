"""Static files stream under Django's ASGI handler (what uvicorn runs) as under WSGI, instead of being
read whole into memory first with a warning per response (apps.core.streaming)."""

from __future__ import annotations

import warnings
from pathlib import Path

import drf_spectacular_sidecar
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

BUNDLE = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
ON_DISK = Path(drf_spectacular_sidecar.__file__).parent / "static" / BUNDLE.removeprefix("/static/")


def test_under_asgi_a_static_file_streams_whole_and_without_a_warning():
    async def read() -> tuple[int, bool, bytes, list[str]]:
        response = await AsyncClient().get(BUNDLE)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            body = b"".join([part async for part in response])
        return response.status_code, response.is_async, body, [str(warning.message) for warning in caught]

    status, is_async, body, caught = async_to_sync(read)()
    assert (status, is_async, caught) == (200, True, [])
    assert body == ON_DISK.read_bytes() and len(body) > 1_000_000


def test_under_wsgi_nothing_changes():
    response = Client().get(BUNDLE)
    assert response.status_code == 200 and not response.is_async
    assert b"".join(response.streaming_content) == ON_DISK.read_bytes()
