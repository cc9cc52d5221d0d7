import datetime as dt

import pytest
from django.utils import timezone

from apps.todos.models import TITLE_MAX_LENGTH, Todo
from apps.todos.services import todo_create
from apps.todos.tests.factories import TodoFactory

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def test_it_creates_reads_updates_completes_and_deletes_a_todo(alice_client):
    created = alice_client.post(
        "/api/todos/",
        {
            "title": "File taxes",
            "description": "Forms in the drawer",
            "priority": "urgent",
            "due_at": "2030-04-15T17:00:00+02:00",
            "tags": ["Finance", "home ", "finance"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    todo = created.json()
    assert todo["tags"] == ["finance", "home"]
    assert todo["status"] == "open"
    assert todo["due_at"] == "2030-04-15T15:00:00Z"

    url = f"/api/todos/{todo['id']}"
    assert alice_client.get(url).json()["title"] == "File taxes"

    patched = alice_client.patch(url, {"priority": "low", "tags": []}, format="json")
    assert patched.status_code == 200
    assert patched.json()["priority"] == "low"
    assert patched.json()["tags"] == []
    assert patched.json()["description"] == "Forms in the drawer"

    replaced = alice_client.put(url, {"title": "File taxes now"}, format="json")
    assert replaced.json()["description"] == ""
    assert replaced.json()["due_at"] is None

    completed = alice_client.post(f"{url}/complete")
    assert completed.json()["status"] == "completed"
    completed_at = completed.json()["completed_at"]
    assert alice_client.post(f"{url}/complete").json()["completed_at"] == completed_at
    assert alice_client.post(f"{url}/reopen").json()["status"] == "open"

    assert alice_client.delete(url).status_code == 204
    assert alice_client.get(url).status_code == 404


def test_naive_times_are_read_in_the_users_time_zone(alice, alice_client):
    alice.timezone = "Europe/Berlin"
    alice.save()
    response = alice_client.post("/api/todos", {"title": "Call mum", "due_at": "2030-01-10T18:00:00"}, format="json")
    assert response.status_code == 201
    assert Todo.objects.get().due_at == dt.datetime(2030, 1, 10, 17, 0, tzinfo=dt.UTC)
    assert response.json()["due_at"] == "2030-01-10T18:00:00+01:00"


def test_alice_cannot_see_change_or_delete_bobs_todos(alice_client, bob):
    bobs = todo_create(owner=bob, title="Bob's secret")
    url = f"/api/todos/{bobs.pk}"
    assert alice_client.get(url).status_code == 404
    assert alice_client.patch(url, {"title": "hacked"}, format="json").status_code == 404
    assert alice_client.put(url, {"title": "hacked"}, format="json").status_code == 404
    assert alice_client.post(f"{url}/complete").status_code == 404
    assert alice_client.post(f"{url}/reopen").status_code == 404
    assert alice_client.delete(url).status_code == 404
    assert alice_client.get("/api/todos").json()["count"] == 0
    bobs.refresh_from_db()
    assert bobs.title == "Bob's secret"
    assert bobs.completed_at is None


def test_it_requires_authentication(anon_client, alice):
    todo = todo_create(owner=alice, title="x")
    for method, url in [("get", "/api/todos"), ("post", "/api/todos"), ("get", f"/api/todos/{todo.pk}")]:
        response = getattr(anon_client, method)(url)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x" * (TITLE_MAX_LENGTH + 1)}, "title"),
        ({"title": ""}, "title"),
        ({"title": "ok", "priority": "whenever"}, "priority"),
        ({"title": "ok", "due_at": "next tuesday-ish"}, "due_at"),
        ({"title": "ok", "due_at": "2030-02-30T10:00:00Z"}, "due_at"),
        ({"title": 42, "tags": "not-a-list"}, "tags"),
        ({"title": "ok", "tags": ["x" * 41]}, "tags"),
        ({"title": "ok", "tags": ["bad/tag"]}, "tags"),
        ({"title": "ok", "colour": "red"}, "colour"),
        ({"description": "no title"}, "title"),
    ],
)
def test_bad_input_gets_400_with_field_errors(alice_client, payload, field):
    response = alice_client.post("/api/todos", payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in {"validation_error", "invalid"}
    assert field in error["details"]
    assert Todo.objects.count() == 0


def test_malformed_json_and_wrong_content_type_are_4xx(alice_client):
    broken = alice_client.post("/api/todos", data='{"title": ', content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    form = alice_client.post("/api/todos", data="title=x", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    not_object = alice_client.post("/api/todos", data="[1, 2]", content_type="application/json")
    assert not_object.status_code == 400


def test_unknown_api_paths_and_ids_are_404_in_the_error_shape(alice_client):
    assert alice_client.get("/api/nothing-here").json()["error"]["code"] == "not_found"
    response = alice_client.get("/api/todos/not-a-number")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.fixture
def alice_todos(alice):
    now = timezone.now()
    done = TodoFactory(owner=alice, title="Paid rent", priority="high", due_at=now - dt.timedelta(days=2))
    done.completed_at = now - dt.timedelta(days=1)
    done.save()
    overdue = TodoFactory(owner=alice, title="Renew passport", priority="urgent", due_at=now - dt.timedelta(hours=3))
    soon = TodoFactory(owner=alice, title="Buy milk", priority="low", due_at=now + dt.timedelta(hours=5))
    later = TodoFactory(
        owner=alice, title="Plan holiday", description="Look at flights to Lisbon", due_at=now + dt.timedelta(days=30)
    )
    undated = TodoFactory(owner=alice, title="Learn Rust", priority="medium", due_at=None)
    from apps.todos.services import todo_update

    todo_update(todo=soon, changes={"tags": ["shopping", "home"]})
    todo_update(todo=later, changes={"tags": ["travel"]})
    return {"done": done, "overdue": overdue, "soon": soon, "later": later, "undated": undated}


def test_it_filters_by_status(alice_client, alice_todos):
    t = alice_todos
    assert set(ids(alice_client.get("/api/todos?status=completed"))) == {t["done"].pk}
    assert set(ids(alice_client.get("/api/todos?status=open"))) == {
        t["overdue"].pk,
        t["soon"].pk,
        t["later"].pk,
        t["undated"].pk,
    }
    assert len(ids(alice_client.get("/api/todos?status=all"))) == 5


def test_it_filters_by_priority_including_several(alice_client, alice_todos):
    t = alice_todos
    assert ids(alice_client.get("/api/todos?priority=urgent")) == [t["overdue"].pk]
    assert set(ids(alice_client.get("/api/todos?priority=low&priority=high"))) == {t["soon"].pk, t["done"].pk}


def test_it_filters_by_due_range_and_overdue(alice_client, alice_todos):
    t = alice_todos
    now = timezone.now()
    before = (now + dt.timedelta(days=1)).isoformat()
    after = now.isoformat()
    in_range = alice_client.get("/api/todos", {"due_after": after, "due_before": before})
    assert ids(in_range) == [t["soon"].pk]
    assert ids(alice_client.get("/api/todos?overdue=true")) == [t["overdue"].pk]
    not_overdue = set(ids(alice_client.get("/api/todos?overdue=false")))
    assert t["overdue"].pk not in not_overdue
    assert len(not_overdue) == 4


def test_it_filters_by_tag_and_text(alice_client, alice_todos):
    t = alice_todos
    assert ids(alice_client.get("/api/todos?tag=Shopping")) == [t["soon"].pk]
    assert ids(alice_client.get("/api/todos?search=lisbon")) == [t["later"].pk]
    assert ids(alice_client.get("/api/todos?search=PASSPORT renew")) == [t["overdue"].pk]
    assert ids(alice_client.get("/api/todos?search=travel")) == [t["later"].pk]
    assert ids(alice_client.get("/api/todos?search=nothing-matches")) == []


def test_it_orders_by_priority_due_date_and_title(alice_client, alice_todos):
    t = alice_todos
    by_priority = ids(alice_client.get("/api/todos?ordering=-priority&status=open"))
    assert by_priority[0] == t["overdue"].pk
    assert by_priority[-1] == t["soon"].pk
    by_due = ids(alice_client.get("/api/todos?ordering=due"))
    assert by_due == [t["done"].pk, t["overdue"].pk, t["soon"].pk, t["later"].pk, t["undated"].pk]
    by_title = [item["title"] for item in alice_client.get("/api/todos?ordering=title").json()["results"]]
    assert by_title == sorted(by_title)


def test_invalid_filters_are_400(alice_client):
    response = alice_client.get("/api/todos?priority=whenever&due_before=yesterday&ordering=colour&overdue=maybe")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"priority", "due_before", "ordering", "overdue"}


def test_it_paginates(alice, alice_client):
    for n in range(25):
        todo_create(owner=alice, title=f"Task {n:02d}")
    first = alice_client.get("/api/todos?ordering=title&page_size=10").json()
    assert first["count"] == 25
    assert [item["title"] for item in first["results"]] == [f"Task {n:02d}" for n in range(10)]
    assert first["next"].endswith("page=2&page_size=10") or "page=2" in first["next"]
    last = alice_client.get("/api/todos?ordering=title&page_size=10&page=3").json()
    assert [item["title"] for item in last["results"]] == [f"Task {n:02d}" for n in range(20, 25)]
    assert last["next"] is None
    capped = alice_client.get("/api/todos?page_size=1000").json()
    assert len(capped["results"]) == 25
    beyond = alice_client.get("/api/todos?page=9")
    assert beyond.status_code == 404


def test_overview_counts_in_the_users_day(alice, alice_client, alice_todos):
    overview = alice_client.get("/api/todos/overview").json()
    assert overview["total"] == 5
    assert overview["open"] == 4
    assert overview["completed"] == 1
    assert overview["overdue"] == 1
    assert overview["urgent_open"] == 1
    assert overview["timezone"] == "UTC"


def test_unknown_filters_are_400_rather_than_ignored(alice_client):
    response = alice_client.get("/api/todos?statuss=open")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"statuss": ["Unknown filter."]}
