"""The deployment's ``HeldClock``: stands still while held, goes on without a jump (no deployment needed)."""

from __future__ import annotations

import pytest

from deploy.airflow_e2e.clock import HeldClock


class Source:
    """A monotonic source the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_held_clock_stands_still_then_resumes_where_it_stopped() -> None:
    source = Source()
    clock = HeldClock(source)
    assert clock() == 100.0
    source.now = 103.0
    with clock.held():
        assert clock.is_held
        source.now = 150.0
        assert clock() == 103.0
        clock.hold()  # holding again changes nothing
        source.now = 160.0
        assert clock() == 103.0
    assert not clock.is_held
    assert clock() == 103.0  # no jump: the 57 s held are not counted
    source.now = 161.5
    assert clock() == 104.5
    clock.release()  # releasing a running clock changes nothing
    assert clock() == 104.5


def test_held_clock_is_released_when_the_block_fails() -> None:
    source = Source()
    clock = HeldClock(source)
    with pytest.raises(RuntimeError), clock.held():
        source.now = 110.0
        raise RuntimeError("check failed")
    source.now = 112.0
    assert not clock.is_held and clock() == 102.0
