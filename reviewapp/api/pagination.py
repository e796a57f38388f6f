"""The API's two ways to page a list.

Small lists (your reviews, a review's forms and extracted data) are paged by number and carry
their total ``count``. The big ones (a review's records and its decisions, 100,000s of rows) are
paged by key (keyset pagination): a page is "the next N rows after this one" in the list's fixed
order, found through an index, so page 1,000 costs what page 1 costs and no page counts every row.
Their answer is ``{"next": url|null, "previous": url|null, "results": [...]}``: follow ``next``
until it is null.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from reviewapp.core.rows import row_after, row_before


class Pagination(PageNumberPagination):
    """?page=N, 100 items a page by default, up to 1000 with ?page_size=."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class KeysetPagination(BasePagination):
    """?cursor=<from the last answer's next or previous>, ?page_size= (100, at most 1000).

    The view names its order in ``keyset``: model fields, none of them null, the last one unique
    (``("review_id", "created_at", "id")``). The cursor holds the values of those fields at the
    page's edge. A list of one review's rows starts with the review and selects it with
    ``core.rows.in_review``: the order is the same, and PostgreSQL then reads the page from the
    index on (review, ...), never by walking another index through every other review's rows.
    """

    page_size = 100
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None) -> list[Any]:
        keys: Sequence[str] = view.keyset
        self.keys = keys
        self.base_url = request.build_absolute_uri()
        self.size = self._page_size(request)
        forward, values = self._decode(request, queryset.model, keys)
        if values is not None:
            compare = row_after if forward else row_before
            queryset = queryset.filter(compare(keys, values))
        order = list(keys) if forward else [f"-{k}" for k in keys]
        rows = list(queryset.order_by(*order)[: self.size + 1])
        more = len(rows) > self.size
        rows = rows[: self.size]
        if not forward:
            rows.reverse()
        # Going forward there is a previous page when we came from one; going back, always.
        self.has_next = more if forward else True
        self.has_previous = (values is not None) if forward else more
        self.rows = rows
        return rows

    def _page_size(self, request) -> int:
        try:
            size = int(request.query_params.get(self.page_size_query_param, self.page_size))
        except ValueError:
            return self.page_size
        return max(1, min(size, self.max_page_size))

    def _decode(self, request, model, keys) -> tuple[bool, list | None]:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return True, None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
            forward, encoded = bool(data["f"]), data["k"]
            if not isinstance(encoded, list) or len(encoded) != len(keys):
                raise ValueError("wrong number of keys")
            values = [
                model._meta.get_field(k).to_python(v) for k, v in zip(keys, encoded, strict=True)
            ]
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, ValidationError):
            raise NotFound(
                "Invalid cursor: follow the next or previous link of an answer."
            ) from None
        return forward, values

    def _link(self, row, forward: bool) -> str:
        values = []
        for key in self.keys:
            value = getattr(row, key)
            values.append(value.isoformat() if hasattr(value, "isoformat") else value)
        token = base64.urlsafe_b64encode(
            json.dumps({"f": int(forward), "k": values}, separators=(",", ":")).encode()
        ).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link(self.rows[-1], forward=True)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self.rows[0], forward=False)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page; null on the last.",
                },
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The previous page; null on the first.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: taken from a next or previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows a page ({self.page_size} unless given, at most "
                f"{self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]
