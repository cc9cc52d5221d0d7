"""Each request's sync code runs on a thread of its own, borrowed from a pool rather than started anew."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from django.core import signals

from apps.core.request_threads import ExecutorPool, request_executors, request_thread
from config.asgi import application


def _get(paths: list[str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    return asyncio.run(run())


@pytest.fixture
def request_threads_seen():
    """The threads Django's request_started receivers ran on (Django sends it in the request's thread)."""
    seen: list[threading.Thread] = []

    def receiver(**kwargs: object) -> None:
        seen.append(threading.current_thread())

    signals.request_started.connect(receiver, dispatch_uid="test.request_threads")
    yield seen
    signals.request_started.disconnect(dispatch_uid="test.request_threads")


def test_sequential_requests_reuse_one_thread_instead_of_starting_one_each(request_threads_seen):
    _get(["/api/schema/"])  # warm: the pool may start its first thread here
    started = request_executors.started
    for _ in range(20):
        (response,) = _get(["/healthz"])
        assert response.status_code == 200
    assert request_executors.started == started
    assert len(set(request_threads_seen[1:])) == 1 and request_threads_seen[1].name.startswith("request")


def test_concurrent_requests_run_on_threads_of_their_own(request_threads_seen):
    # Both receivers must be inside at once to pass the barrier: on one shared thread they could not.
    barrier = threading.Barrier(2, timeout=10)

    def meet(**kwargs: object) -> None:
        barrier.wait()

    signals.request_started.connect(meet, dispatch_uid="test.request_threads.meet")
    try:
        responses = _get(["/healthz", "/healthz"])
    finally:
        signals.request_started.disconnect(dispatch_uid="test.request_threads.meet")
    assert [response.status_code for response in responses] == [200, 200]
    assert len(set(request_threads_seen)) == 2


def test_the_pool_keeps_a_bounded_number_of_idle_threads():
    pool = ExecutorPool(keep_idle=2)
    executors = [pool.acquire() for _ in range(4)]
    for executor in executors:
        pool.release(executor)
    assert pool.started == 4 and pool.idle == 2
    # The ones beyond the bound were shut down: they take no more work.
    with pytest.raises(RuntimeError):
        executors[2].submit(print)
    assert pool.acquire() in executors[:2]


def test_work_after_the_request_is_refused_not_run_on_a_thread_another_request_now_owns():
    from asgiref.sync import sync_to_async

    async def run() -> None:
        leftover: list[asyncio.Task] = []
        request_ended = asyncio.Event()
        async with request_thread():
            # A task started by the request that outlives it (a bug): asgiref refuses its later calls.
            async def late() -> None:
                await request_ended.wait()
                await sync_to_async(threading.get_ident)()

            leftover.append(asyncio.ensure_future(late()))
        request_ended.set()
        with pytest.raises(RuntimeError):
            await leftover[0]

    asyncio.run(run())


def test_an_api_request_runs_its_middleware_view_and_rendering_in_one_hop(monkeypatch):
    # Django's async chain hops back to the event loop (async_to_sync) below each sync-only
    # middleware and out again for the view and the rendering; the sync chain never comes back.
    from asgiref import sync

    back_to_loop: list[object] = []
    real = sync.AsyncToSync.__call__

    def counted(self, *args: object, **kwargs: object) -> object:
        back_to_loop.append(self.awaitable)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    (response,) = _get(["/api/schema/"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/vnd.oai")
    assert back_to_loop == []


@pytest.fixture
def lifecycle(monkeypatch):
    """What a request does, in order: its signals (with the thread each ran on), each hop from the event
    loop to a thread (asgiref's SyncToAsync), each database query, and each ASGI message the app sends."""
    from asgiref import sync
    from django.db.backends.utils import CursorWrapper

    events: list[tuple[str, object]] = []

    def started(**kwargs: object) -> None:
        events.append(("request_started", threading.current_thread()))

    def finished(**kwargs: object) -> None:
        events.append(("request_finished", threading.current_thread()))

    real_hop = sync.SyncToAsync.__call__

    async def hop(self, *args: object, **kwargs: object) -> object:
        events.append(("hop", self.func))
        return await real_hop(self, *args, **kwargs)

    real_execute = CursorWrapper.execute

    def execute(self, sql, params=None):
        events.append(("query", sql))
        return real_execute(self, sql, params)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", hop)
    monkeypatch.setattr(CursorWrapper, "execute", execute)
    signals.request_started.connect(started, dispatch_uid="test.lifecycle.started")
    signals.request_finished.connect(finished, dispatch_uid="test.lifecycle.finished")
    yield events
    signals.request_started.disconnect(dispatch_uid="test.lifecycle.started")
    signals.request_finished.disconnect(dispatch_uid="test.lifecycle.finished")


def _request(events: list, method: str, url: httpx.URL | str, **kwargs: object) -> httpx.Response:
    """One request through config.asgi.application, with the ASGI messages it sends added to `events`."""

    async def recorded(scope, receive, send) -> None:
        async def recording_send(message) -> None:
            events.append((message["type"], message.get("more_body", False)))
            await send(message)

        await application(scope, receive, recording_send)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=recorded)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(run())


def _bearer(user) -> dict[str, str]:
    from apps.accounts.tokens import jwt_pair_issue

    return {"Authorization": f"Bearer {jwt_pair_issue(user=user).access}"}


# A request served in one hop: the signals ran on the request's thread, then the loop only sent.
ONE_HOP_THEN_SEND = ["hop", "request_started", "request_finished", "http.response.start", "http.response.body"]


def _kinds(events: list) -> list[str]:
    return [kind for kind, _detail in events if kind != "query"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/todos/", None),
        ("POST", "/api/mcp/tools/invoke", {"tool_name": "create_todos", "parameters": {"items": [{"title": "x"}]}}),
    ],
)
def test_a_rest_request_crosses_to_its_thread_once_and_closes_before_it_is_sent(alice, lifecycle, method, path, body):
    headers = _bearer(alice)
    lifecycle.clear()

    response = _request(lifecycle, method, path, json=body, headers=headers)

    assert response.status_code in (200, 201), response.text
    # One hop, in which request_started, the view and close() (request_finished) all ran; Django's own
    # handler makes three (request_started, the view, close()).
    assert _kinds(lifecycle) == ONE_HOP_THEN_SEND
    threads = {thread for kind, thread in lifecycle if kind.startswith("request_")}
    assert len(threads) == 1 and threads.pop().name.startswith("request")


@pytest.mark.django_db(transaction=True)
def test_a_streamed_response_reads_the_database_while_it_is_sent_and_is_closed_after(alice, lifecycle):
    from apps.todos.services import todo_create

    for title in ("first", "second", "third"):
        todo_create(owner=alice, title=title)
    headers = _bearer(alice)
    lifecycle.clear()

    response = _request(lifecycle, "GET", "/api/audit/export?format=ndjson", headers=headers)

    assert response.status_code == 200 and response.text.count("todo.created") == 3
    kinds = [kind for kind, _detail in lifecycle]
    start = kinds.index("http.response.start")
    # The export's rows are read after the headers went out, by the streamed content itself.
    assert "query" in kinds[start:]
    bodies = [more for kind, more in lifecycle if kind == "http.response.body"]
    assert len(bodies) > 2 and bodies[-1] is False and all(bodies[:-1])
    # Closed (request_finished) only after the final body message, on the request's thread.
    assert kinds.count("request_started") == kinds.count("request_finished") == 1
    last_body = len(kinds) - 1 - kinds[::-1].index("http.response.body")
    assert _kinds(lifecycle[last_body + 1 :]) == ["hop", "request_finished"]
    threads = {thread for kind, thread in lifecycle if kind.startswith("request_")}
    assert len(threads) == 1 and threads.pop().name.startswith("request")


def _exchange(events: list, path: str, *, query: bytes = b"", headers: dict[str, str] | None = None) -> list[dict]:
    """A GET through config.asgi.application from a scope made by hand, as an ASGI server would make it;
    the client goes away once it has sent the request. Returns the messages sent (added to `events` too)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"localhost")] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict) -> None:
        events.append((message["type"], message.get("more_body", False)))
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    return sent


def test_a_request_django_cannot_build_gets_djangos_400(lifecycle):
    # A query string that is not UTF-8 (which an HTTP client library will not send, hence a scope made
    # by hand): ASGIRequest cannot decode it, and create_request answers 400.
    sent = _exchange(lifecycle, "/api/todos/", query=b"q=\xff")

    assert sent[0]["status"] == 400 and sent[1]["body"] == b""  # HttpResponseBadRequest(), as Django sends it
    assert _kinds(lifecycle) == ONE_HOP_THEN_SEND


@pytest.mark.django_db(transaction=True)
def test_a_streamed_response_whose_client_has_gone_is_not_sent_on_and_is_still_closed(alice, lifecycle, monkeypatch):
    from asgiref import sync
    from django.db.backends.utils import CursorWrapper

    from apps.todos.services import todo_create

    todo_create(owner=alice, title="first")
    headers = _bearer(alice)
    lifecycle.clear()
    # The export's query waits until the handler has given up on the stream and closes the response,
    # so the disconnect arrives while the content is being made, however fast the machine is.
    closing = threading.Event()
    execute, hop = CursorWrapper.execute, sync.SyncToAsync.__call__

    def gated_execute(self, sql, params=None):
        if ("http.response.start", False) in lifecycle:
            closing.wait(timeout=10)
        return execute(self, sql, params)

    async def noting_close(self, *args: object, **kwargs: object) -> object:
        if getattr(self.func, "__name__", "") == "close":
            closing.set()
        return await hop(self, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "execute", gated_execute)
    monkeypatch.setattr(sync.SyncToAsync, "__call__", noting_close)

    sent = _exchange(lifecycle, "/api/audit/export", query=b"format=ndjson", headers=headers)

    assert [message["type"] for message in sent] == ["http.response.start"]
    kinds = _kinds(lifecycle)
    assert kinds.count("request_started") == kinds.count("request_finished") == 1 and kinds[-1] == "request_finished"
    threads = {thread for kind, thread in lifecycle if kind.startswith("request_")}
    assert len(threads) == 1 and threads.pop().name.startswith("request")


def test_an_oversize_body_is_refused_before_django_starts_a_request(lifecycle, settings):
    response = _request(
        lifecycle, "POST", "/api/mcp/tools/invoke", content=b"x" * (settings.MAX_REQUEST_BODY_BYTES + 1)
    )

    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    # The edge answered it: Django never started a request, nothing crossed to a thread.
    assert {kind for kind, _detail in lifecycle} == {"http.response.start", "http.response.body"}
