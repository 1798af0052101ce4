"""A stand-in for Airflow 3.3's task state store, as a rescheduled sensor sees it."""

from __future__ import annotations

import json
from typing import Any

LIMIT = 64 * 1024  # the store's documented policy limit per value


class TaskStateStore:
    """Values kept as JSON (what Airflow stores), at most :data:`LIMIT` bytes each (checked)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data.get(key, default)))

    def set(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        assert len(text) <= LIMIT, f"{len(text)} bytes in {key!r}"
        self.data[key] = json.loads(text)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
