"""A manual clock for the sans-IO drivers' tests."""

from __future__ import annotations


class SleepingClock:
    """A clock that moves only when the code under test sleeps; it keeps every sleep."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
