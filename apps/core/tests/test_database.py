"""Django views give their database connection back once the response is built, before it is sent."""

from __future__ import annotations

import pytest
from django.db import connection

from conftest import client_for


@pytest.mark.django_db(transaction=True)
def test_a_view_gives_its_connection_back_before_the_response_goes_out(alice):
    client = client_for(alice)

    response = client.get("/api/todos/")

    assert response.status_code == 200
    # The test client keeps Django's end-of-request close from running, so only the middleware closed it.
    assert connection.connection is None


def test_a_view_inside_a_transaction_keeps_its_connection(alice_client):
    # The `db` fixture wraps the test in a transaction: closing under it would break the test's own work.
    response = alice_client.get("/api/todos/")

    assert response.status_code == 200
    assert connection.connection is not None and connection.in_atomic_block
