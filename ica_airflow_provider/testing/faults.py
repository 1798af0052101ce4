"""Fault injection: explicit one-off faults and seeded random faults.

Kinds (the keys of ``FakeIcaBackend.fault_counts``):

- ``"429"``, ``"500"``, ``"502"``, ``"503"``, ``"504"`` (any HTTP status for explicit
  faults): a problem+json answer titled ``ICA_API_<status>``; the request is not executed.
- ``"drop"``: the connection is closed without an HTTP response; not executed.
- ``"slow"``: the normal answer, ``slow_seconds`` late (the delay comes before the work;
  ``FakeIcaBackend.release_slow()`` ends it early, so tests need not wait).
- ``"lost-create"``: ``POST .../analysisCreationBatch`` runs normally (batch created,
  idempotency record stored), then the connection is closed before the answer is sent.
  Random draws pick it only for that endpoint; an explicit one elsewhere acts as ``drop``.

``fault_kinds`` is a comma-separated list of kinds, each optionally weighted:
``"429:3,503:1,drop"`` draws 429 three times as often as 503 or drop (weight 1 by default).

Random faults draw exactly two numbers per request whatever happens (one for "faulty?",
one for the kind), so the n-th request always gets the same outcome for a seed, whichever
paths or kinds are eligible and whether an explicit fault took precedence.

Standard library only: ``config`` validates with this module and must stay cheap to import.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

DROP = "drop"
SLOW = "slow"
LOST_CREATE = "lost-create"
STATUS_KINDS = frozenset({"429", "500", "502", "503", "504"})
RANDOM_KINDS = STATUS_KINDS | {DROP, SLOW, LOST_CREATE}
EXPLICIT_KINDS = frozenset({DROP, SLOW, LOST_CREATE})
# Statuses that tell the client when to come back, as the real ICA does.
RETRY_AFTER_STATUSES = frozenset({429, 503})
BATCH_CREATE_SUFFIX = "/analysisCreationBatch"


def is_batch_create(method: str, path: str) -> bool:
    """Whether the request creates a batch (the only target of ``lost-create``)."""
    return method == "POST" and path.endswith(BATCH_CREATE_SUFFIX)


def parse_fault_kinds(spec: str) -> tuple[tuple[str, float], ...]:
    """``"429:3,drop"`` -> ``(("429", 3.0), ("drop", 1.0))``; ValueError for bad input."""
    kinds: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight_text = part.strip().partition(":")
        name = name.strip().lower()
        if not name:
            continue
        if name not in RANDOM_KINDS:
            raise ValueError(f"unknown fault kind {name!r}; choose from {sorted(RANDOM_KINDS)}")
        weight = float(weight_text) if weight_text.strip() else 1.0
        if not weight >= 0:  # also refuses NaN
            raise ValueError(f"fault kind {name!r} has a negative weight")
        kinds[name] = kinds.get(name, 0.0) + weight
    return tuple(kinds.items())


def parse_paths(spec: str) -> tuple[str, ...]:
    """Comma-separated path fragments, blanks dropped."""
    return tuple(part.strip() for part in spec.split(",") if part.strip())


@dataclass
class Fault:
    """A fault applied to a request instead of (or around) its normal answer.

    ``status`` is an HTTP status or one of ``"drop"``, ``"slow"``, ``"lost-create"``.
    Explicit faults apply to the next ``remaining`` matching requests.
    """

    status: int | str
    remaining: int = 1
    method: str | None = None
    path_contains: str | None = None
    retry_after: float | None = None
    detail: str = "Injected fault"

    @property
    def kind(self) -> str:
        """The ``fault_counts`` key: the status as text, or the kind name."""
        return str(self.status)

    def matches(self, method: str, path: str) -> bool:
        """Whether this explicit fault applies to the request."""
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


def explicit_status(status: int | str) -> int | str:
    """Normalise ``inject_fault``'s status: ``"503"`` -> 503; kinds checked."""
    if isinstance(status, int):
        return status
    text = status.strip().lower()
    if text.isdigit():
        return int(text)
    if text not in EXPLICIT_KINDS:
        raise ValueError(f"unknown fault {status!r}: use an HTTP status or one of {sorted(EXPLICIT_KINDS)}")
    return text


class InjectedFault(NamedTuple):
    """One applied fault; ``request`` is the 0-based number of the request since start."""

    request: int
    method: str
    path: str
    kind: str


class RandomFaults:
    """The seeded draws; not thread-safe (the backend calls it under its lock)."""

    def __init__(self, rate: float, kinds: str, paths: str, seed: int | None) -> None:
        # Without a seed, pick one and keep it, so a failing run can still be repeated.
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.rate = rate
        self.kinds = parse_fault_kinds(kinds)
        self.paths = parse_paths(paths)
        self._rng = random.Random(self.seed)

    def draw(self, method: str, path: str) -> str | None:
        """The random fault kind for this request, or None."""
        faulty = self._rng.random() < self.rate
        pick = self._rng.random()
        if not faulty or (self.paths and not any(part in path for part in self.paths)):
            return None
        eligible = [
            (kind, weight)
            for kind, weight in self.kinds
            if weight > 0 and (kind != LOST_CREATE or is_batch_create(method, path))
        ]
        total = sum(weight for _, weight in eligible)
        if total <= 0:
            return None
        threshold = pick * total
        for kind, weight in eligible:
            threshold -= weight
            if threshold < 0:
                return kind
        return eligible[-1][0]  # pick * total rounded up to total
