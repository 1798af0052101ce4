"""Query parameters of the items listing: page size, offset, status filter and cursors.

Cursors are opaque to clients but simply base64url JSON of the batch, the status filter
and the index of the next item to examine, so they stay consistent under a filter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable

from ica_airflow_provider.testing.entities import ITEM_STATUSES
from ica_airflow_provider.testing.problems import bad_request

OFFSET_PAGING_LIMIT = 200_000  # "Offset-based pagination has a result limit of 200K rows"


def parse_statuses(values: Iterable[str]) -> frozenset[str]:
    """The ``status`` filter; repeated params and comma-separated values both work."""
    statuses = {part.strip() for value in values for part in value.split(",") if part.strip()}
    invalid = sorted(statuses - set(ITEM_STATUSES))
    if invalid:
        allowed = ", ".join(ITEM_STATUSES)
        raise bad_request(
            f"Invalid status filter value(s): {', '.join(invalid)}",
            {"status": f"must be any of [{allowed}]"},
        )
    return frozenset(statuses)


def parse_page_size(raw: str | None, default: int, maximum: int) -> int:
    """``pageSize`` as an int in 1..maximum (larger values are refused, not clamped)."""
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= maximum:
        raise bad_request(f"Invalid pageSize '{raw}'", {"pageSize": f"must be between 1 and {maximum}"})
    return size


def parse_page_offset(raw: str, page_size: int) -> int:
    """``pageOffset`` as a non-negative int within the offset paging limit."""
    try:
        offset = int(raw)
    except ValueError:
        offset = -1
    if offset < 0:
        raise bad_request(f"Invalid pageOffset '{raw}'", {"pageOffset": "must be a non-negative integer"})
    if offset + page_size > OFFSET_PAGING_LIMIT:
        raise bad_request(
            "Offset-based paging is limited to 200000 rows; use cursor-based paging",
            {"pageOffset": f"pageOffset + pageSize must not exceed {OFFSET_PAGING_LIMIT}"},
        )
    return offset


def encode_cursor(batch_id: str, statuses: frozenset[str], index: int) -> str:
    """Cursor pointing at item ``index`` of the batch for this filter."""
    payload = {"b": batch_id, "s": sorted(statuses), "i": index}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str, batch_id: str, statuses: frozenset[str], item_count: int) -> int:
    """Index a cursor points at; 400 if it is malformed or was made for another query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        index = payload["i"]
        token_batch, token_statuses = payload["b"], payload["s"]
    except (ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise bad_request("Invalid pageToken", {"pageToken": "is not a valid page token"}) from exc
    if token_batch != batch_id or not isinstance(index, int) or not 0 <= index <= item_count:
        raise bad_request("Invalid pageToken", {"pageToken": "is not a valid page token"})
    if token_statuses != sorted(statuses):
        # The filter must be repeated unchanged on every page, as for any cursor API.
        raise bad_request(
            "pageToken was issued for a different status filter",
            {"pageToken": "does not match the status filter of this request"},
        )
    return index
