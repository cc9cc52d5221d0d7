"""PooledThreadASGIHandler (apps.core.request_threads) copies the outline of Django's ASGI handler
step for step (its `handle` runs Django's sync steps in one hop instead of calling Django's). A
Django release that changes that outline must be read before it is deployed: this fails loudly,
naming the methods whose source changed, so the copy is brought in line (then update the digests).
"""

from __future__ import annotations

import hashlib
import inspect

import django
from django.core.handlers.asgi import ASGIHandler

# Django 5.2.x: what request_threads.PooledThreadASGIHandler mirrors (handle, run_get_response's
# close and block size) or calls (create_request, read_body, send_response).
PINNED_MINOR = (5, 2)
OUTLINE = {
    "__call__": "f756809e9c9308dc",
    "handle": "98faeb5bef800331",
    "run_get_response": "0234ea5fe09a5777",
    "send_response": "77eda2b08689b44e",
    "create_request": "5eae59c6696013ff",
    "read_body": "cf4aa904631d5410",
}


def _digest(name: str) -> str:
    return hashlib.sha256(inspect.getsource(getattr(ASGIHandler, name)).encode()).hexdigest()[:16]


def test_django_is_the_minor_version_the_handler_was_written_for():
    assert django.VERSION[:2] == PINNED_MINOR, (
        f"Django {django.get_version()} is installed; requirements.txt pins {PINNED_MINOR}. Read the ASGI "
        "handler's changes against apps/core/request_threads.py before moving the pin."
    )


def test_djangos_asgi_handler_outline_is_the_one_the_pooled_handler_copies():
    changed = sorted(name for name, digest in OUTLINE.items() if _digest(name) != digest)
    assert not changed, (
        f"Django {django.get_version()} changed ASGIHandler.{', ASGIHandler.'.join(changed)}: "
        "PooledThreadASGIHandler (apps/core/request_threads.py) copies these steps; bring it in line, "
        "then update OUTLINE here."
    )
