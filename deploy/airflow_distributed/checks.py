"""What the crash campaign must show, judged from its observations (REST API and fake ICA).

Each check takes a ``Campaign``, raises ``AssertionError`` saying what it saw, and returns a
one-line summary. ``tests/deployment_distributed`` and ``python -m deploy.airflow_distributed``
run the same checks.
"""

from __future__ import annotations

import re

from deploy.airflow_distributed.deployment import TRIGGERERS, WORKERS
from deploy.airflow_distributed.hostname import component_of
from deploy.airflow_distributed.scenarios import Campaign
from ica_airflow_provider.core.schedule import POLL_JITTER

# The confirming listing itself, after the reconcile that asked for it.
LISTING_SECONDS = 2.0

SUMMARY_PATTERN = re.compile(
    r"^distributed: runs=(?P<runs>\d+) succeeded=(?P<succeeded>\d+) batches=(?P<batches>\d+) "
    r"triggerer_kills=(?P<triggerer_kills>\d+) worker_kills=(?P<worker_kills>\d+) "
    r"scheduler_restarts=(?P<scheduler_restarts>\d+) recovery_s=(?P<recovery_s>\d+\.\d)$"
)


def _references(samples: list[str]) -> list[str]:
    return [f"{sample}-germline" for sample in samples]


def check_runs_succeed_one_batch_each(campaign: Campaign) -> str:
    failed = {run: result.state for run, result in campaign.runs.items() if result.state != "success"}
    assert not failed, f"runs not successful: {failed}"
    batch_ids = [result.batch_id for result in campaign.runs.values()]
    assert len(set(batch_ids)) == len(batch_ids), f"runs share batches: {batch_ids}"
    assert len(campaign.batches) == len(campaign.runs), (
        f"{len(campaign.batches)} batches at ICA for {len(campaign.runs)} runs: {campaign.batches}"
    )
    for run, result in campaign.runs.items():
        assert result.batch_id in campaign.batches, f"{run}: batch {result.batch_id} unknown to ICA"
        assert campaign.batches[result.batch_id] == _references(result.samples), (
            run,
            campaign.batches[result.batch_id],
        )
    return f"{len(campaign.runs)} concurrent runs succeeded, {len(campaign.batches)} batches, one per run"


def check_xcoms_complete(campaign: Campaign) -> str:
    for run, result in campaign.runs.items():
        assert result.batch_id is not None, run
        expected = campaign.batch_analyses[result.batch_id]
        assert result.analysis_ids == expected, f"{run}: XCom {result.analysis_ids}, batch has {expected}"
        records = {record["user_reference"]: record for record in result.analyses}
        assert sorted(records) == sorted(_references(result.samples)), (run, sorted(records))
        statuses = {ref: record["analysis_status"] for ref, record in records.items()}
        assert set(statuses.values()) == {"SUCCEEDED"}, (run, statuses)
        assert result.collect_states == ["success"] * len(result.samples), (run, result.collect_states)
    per_run = len(next(iter(campaign.runs.values())).samples)
    return f"every run: {per_run} analysis IDs and SUCCEEDED records in XCom, {per_run} collect_outputs"


def check_worker_kill_reattaches(campaign: Campaign) -> str:
    assert campaign.worker_kills, "no worker was killed"
    parts = []
    for kill in campaign.worker_kills:
        result = campaign.runs[kill.run_id]
        assert kill.worker in WORKERS, kill
        # The worker died after its POST reached ICA but before the answer; ICA went on and
        # created the batch while try 1 was still the task's only try ...
        assert not kill.answered_at_kill, f"{kill.run_id}: ICA had answered before the kill"
        assert kill.tries_when_created == 1, f"{kill.run_id}: batch created at try {kill.tries_when_created}"
        # ... and the retry, on a worker still alive, got that batch back.
        assert result.create_tries >= 2, f"{kill.run_id}: create_batch ran {result.create_tries} time(s)"
        first = component_of(result.create_hostnames[0]) if result.create_hostnames else None
        assert first == kill.worker, f"try 1 ran on {result.create_hostnames}, killed {kill.worker}"
        same = [batch for batch, refs in campaign.batches.items() if refs == _references(result.samples)]
        assert same == [result.batch_id], f"{kill.run_id}: batches with its samples {same}"
        parts.append(
            f"{kill.run_id}: {kill.worker} killed {kill.post_to_kill_s:.1f} s after the POST reached ICA; "
            f"try {result.create_tries} on {component_of(result.create_hostnames[-1])} got the same batch"
        )
    posts = campaign.create_posts
    assert posts > len(campaign.runs), f"{posts} batch POSTs for {len(campaign.runs)} runs: no retry POSTed"
    return "; ".join(parts) + f" ({posts} POSTs, {len(campaign.batches)} batches)"


def check_triggerer_takeover(campaign: Campaign) -> str:
    assert campaign.triggerer_kills, "no triggerer was killed"
    parts = []
    for kill in campaign.triggerer_kills:
        assert {kill.killed, kill.survivor} == set(TRIGGERERS), kill
        assert kill.orphans, f"{kill.killed} held no waits when killed"
        assert kill.taken_over > 0, f"no wait of {kill.killed} polled ICA again after the kill"
        failed = [run for run in kill.orphans if campaign.runs[run].state != "success"]
        assert not failed, f"orphaned waits whose runs failed: {failed}"
        ended = len(kill.orphans) - kill.taken_over
        parts.append(
            f"{kill.killed} killed holding {len(kill.orphans)} waits ({kill.held_by_survivor} on "
            f"{kill.survivor}); {kill.taken_over} polled again on {kill.survivor} after "
            f"{kill.recovery_s:.1f} s" + (f", {ended} had ended just before" if ended else "")
        )
    return "; ".join(parts)


def check_scheduler_restart(campaign: Campaign) -> str:
    assert campaign.scheduler_restarts, "the scheduler was not restarted"
    restart = campaign.scheduler_restarts[0]
    assert restart.active_runs > 0, "every run had ended before the scheduler restart"
    assert campaign.succeeded == len(campaign.runs), "runs lost across the scheduler restart"
    return f"scheduler restarted with {restart.active_runs} runs going ({restart.seconds:.0f} s); none lost"


def check_token_revocation(campaign: Campaign) -> str:
    assert campaign.token_revocations, "tokens were not revoked"
    revocation = campaign.token_revocations[0]
    assert revocation.waits > 0, "no wait was deferred when the tokens were revoked"
    assert revocation.rejected > 0, "no request was refused with a revoked token"
    assert revocation.mints_after > 0, "no token was minted after the revocation"
    return (
        f"{revocation.rejected} requests refused with revoked tokens, {revocation.mints_after} new tokens; "
        f"{revocation.waits} waits polling again after {revocation.recovery_s:.1f} s"
    )


def check_woken_waits_end_within_a_reconcile_interval(campaign: Campaign) -> str:
    """Every wait, woken from the queue both triggerers share, ended at most one reconcile past its batch's end.

    A wait's reconcile is jittered (± ``POLL_JITTER``), so "one reconcile interval" is at most
    ``reconcile_interval * (1 + POLL_JITTER)`` after its last listing, which came before the end.
    """
    interval = campaign.reconcile_interval
    assert interval is not None, "the waits were not woken by notifications (no SQS queue)"
    assert sorted(campaign.wait_lags) == sorted(campaign.runs), f"lags of {sorted(campaign.wait_lags)}"
    bound = interval * (1 + POLL_JITTER) + LISTING_SECONDS
    lags = sorted(campaign.wait_lags.values(), key=lambda lag: lag.wait_lag_s)
    late = [f"{lag.run_id}: {lag.wait_lag_s:.1f} s" for lag in lags if lag.wait_lag_s > bound]
    assert not late, f"waits that ended more than {bound:.0f} s past their batch's end: {late}"
    woken = sum(lag.wait_lag_s <= interval * (1 - POLL_JITTER) for lag in lags)
    return (
        f"{len(lags)} waits ended {lags[0].wait_lag_s:.1f}-{lags[-1].wait_lag_s:.1f} s past their batch's end"
        f" (bound {bound:.0f} s: reconcile {interval:g} s + {POLL_JITTER:.0%} jitter + the listing); {woken} before"
        f" any reconcile was due; tasks resumed {min(lag.task_lag_s for lag in lags):.1f}-"
        f"{max(lag.task_lag_s for lag in lags):.1f} s past it"
    )


def check_summary_line(campaign: Campaign) -> str:
    line = campaign.summary_line()
    match = SUMMARY_PATTERN.match(line)
    assert match, f"summary line not in the agreed form: {line!r}"
    counts = {name: int(value) for name, value in match.groupdict().items() if name != "recovery_s"}
    assert counts["runs"] >= 10, line
    assert counts["succeeded"] == counts["batches"] == counts["runs"], line
    assert counts["triggerer_kills"] >= 1 and counts["worker_kills"] >= 1, line
    assert counts["scheduler_restarts"] >= 1, line
    assert float(match["recovery_s"]) > 0, line
    return line


CHECKS = (
    check_runs_succeed_one_batch_each,
    check_xcoms_complete,
    check_worker_kill_reattaches,
    check_triggerer_takeover,
    check_scheduler_restart,
    check_token_revocation,
    check_woken_waits_end_within_a_reconcile_interval,
    check_summary_line,
)
