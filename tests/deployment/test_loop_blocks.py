"""The many-waits check's rule for the triggerer's "blocked" warnings (no deployment needed)."""

from __future__ import annotations

from deploy.airflow_e2e.checks import BLOCKS_TOLERATED, blocks_tolerated, loop_blocks


def warning(seconds: float) -> str:
    return (
        f"2026-12-07T02:00:00Z [info] Triggerer's async thread was blocked for {seconds:.2f} seconds,"
        " exceeding the configured warning threshold of 0.20 seconds. [airflow.jobs.triggerer_job_runner]"
    )


def test_the_delays_are_read_from_the_warnings() -> None:
    assert loop_blocks([warning(0.39), "other line", warning(0.25)]) == [0.39, 0.25]


def test_a_busy_machine_is_tolerated_a_blocking_trigger_is_not() -> None:
    assert blocks_tolerated([])
    assert blocks_tolerated([0.39])  # once seen on 2 shared cores
    assert blocks_tolerated([1.93])  # once seen while other suites ran on the same 2 cores
    assert blocks_tolerated([0.3] * BLOCKS_TOLERATED)
    assert not blocks_tolerated([0.3] * (BLOCKS_TOLERATED + 1))  # a trigger blocking each poll: many
    assert not blocks_tolerated([6.0])  # one block longer than any starvation seen (a sync call that hangs)
