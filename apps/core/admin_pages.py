"""What several apps' admin pages share."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """A page that only shows ("View ..."): no add, change or delete through the admin.

    Actions (revoke, rewrap) carry their own permissions; has_change_permission stays False so no
    form is ever editable or saved.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
