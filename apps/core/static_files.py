"""WhiteNoise, with its files streamed under ASGI as apps.core.streaming streams exports.

WhiteNoise answers with a FileResponse over a synchronous file iterator, which Django's ASGI handler
(what uvicorn runs) reads whole into memory before sending, with a warning on every such response:
the API docs' 1.6 MB script bundle was read whole per request. Here the same response's blocks are
pulled 64 at a time from the request's thread; under WSGI nothing changes.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from whitenoise.middleware import WhiteNoiseMiddleware

from apps.core.streaming import streamable


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> Any:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        response.streaming_content = streamable(request, iter(response.streaming_content))
        return response
