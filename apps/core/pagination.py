"""The one pagination of every paged list: ?page=N&page_size=M, as the OpenAPI schema describes it.

`page` and `page_size` are whole numbers from 1; anything else (0, -1, `abc`, `null`, empty) is a
400 `validation_error` naming the parameter, where DRF would answer 404 for a bad page and quietly
use the default for a bad size. A page past the last is a 404 (documented on every paged list by
apps.core.schema). A size above `max_page_size` is capped, so a client cannot ask for the whole
table at once.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from apps.core.errors import InvalidInput

WHOLE_NUMBER = re.compile(r"[1-9][0-9]*")
# More digits than any page or size could need: a page that far is past the last, a size is capped.
DIGITS_READ = 12


def _whole_number(request: Request, name: str) -> int | None:
    """The parameter as a whole number from 1, None when absent; InvalidInput otherwise."""
    if name not in request.query_params:
        return None
    raw = request.query_params.get(name)
    if not WHOLE_NUMBER.fullmatch(raw or ""):
        raise InvalidInput("Invalid page parameters.", details={name: ["A whole number from 1."]})
    return int(raw[:DIGITS_READ]) if len(raw) <= DIGITS_READ else 10**DIGITS_READ


class PageNumberPagination(pagination.PageNumberPagination):
    """?page=N&page_size=M, both whole numbers from 1; the size capped at `max_page_size`."""

    page_size_query_param = "page_size"
    max_page_size = 100
    # `page=last` would be a second spelling of a page that the schema (an integer) does not have.
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int:
        size = _whole_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return _whole_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page, {self.page_size} by default; a larger value than {self.max_page_size} "
                    f"is taken as {self.max_page_size}."
                )
            else:
                parameter["description"] = "A page number from 1; a page past the last answers 404."
        return parameters
