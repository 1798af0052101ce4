"""Operator behaviour that needs no server: validation, coercion, the idempotency key."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.errors import IcaConfigError
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator, derive_idempotency_key

ITEM = {
    "userReference": "S1",
    "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
    "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": ["fil.00000000000000000000000000000001"]}]},
}


def operator(**kwargs: Any) -> IcaCreateAnalysisBatchOperator:
    return IcaCreateAnalysisBatchOperator(task_id="create", **kwargs)


def context(**ti: Any) -> dict[str, Any]:
    fields = {"dag_id": "d", "task_id": "create", "run_id": "manual__2026-01-01T00:00:00+00:00", "map_index": -1}
    return {"ti": SimpleNamespace(**(fields | ti))}


def test_build_batch_returns_ica_json() -> None:
    batch = operator(nextflow_items=[ITEM]).build_batch()
    assert batch == {"nextflowItems": [ITEM]}


def test_every_invalid_field_is_named_by_its_path() -> None:
    bad = [ITEM, {**ITEM, "userReference": "bad:ref"}, {**ITEM, "userReference": "S3", "pipelineId": ""}]
    with pytest.raises(IcaConfigError) as exc:
        operator(nextflow_items=bad).build_batch()
    message = str(exc.value)
    assert "nextflow_items[1].userReference" in message
    assert "':'" in message
    assert "nextflow_items[2].pipelineId" in message
    assert "nextflow_items[0]" not in message


def test_unknown_field_after_templating_is_rejected() -> None:
    with pytest.raises(IcaConfigError, match=r"cwl_items\[0\]\.userRefrence"):
        operator(cwl_items=[{"userRefrence": "x", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "analysisInput": {}}]).build_batch()


@pytest.mark.parametrize(
    "rendered",
    [json.dumps([ITEM]), repr([ITEM])],
    ids=["json-text", "python-literal"],
)
def test_rendered_text_is_parsed(rendered: str) -> None:
    assert operator(nextflow_items=rendered).build_batch() == {"nextflowItems": [ITEM]}


def test_malformed_json_text_names_the_field() -> None:
    with pytest.raises(IcaConfigError, match=r"^cwl_items: not valid JSON"):
        operator(cwl_items='[{"userReference": "x",]').build_batch()


def test_rendered_numbers_become_strings_where_ica_wants_strings() -> None:
    item = {**ITEM, "analysisInput": {**ITEM["analysisInput"], "parameters": [{"code": "threads", "value": 8}]}}
    batch = operator(nextflow_items=[item]).build_batch()
    assert batch["nextflowItems"][0]["analysisInput"]["parameters"] == [{"code": "threads", "value": "8"}]


def test_empty_batch_and_duplicate_user_references_are_refused() -> None:
    with pytest.raises(IcaConfigError, match="no items"):
        operator().build_batch()
    with pytest.raises(IcaConfigError, match="S1"):
        operator(nextflow_items=[ITEM, ITEM]).build_batch()


def test_bad_wait_arguments_fail_at_parse_time() -> None:
    with pytest.raises(ValueError, match="wait_for: 'everything'"):
        operator(nextflow_items=[ITEM], wait_for="everything")
    with pytest.raises(ValueError, match="max_failures"):
        operator(nextflow_items=[ITEM], max_failures=-1)


def test_include_outputs_is_checked_at_parse_time() -> None:
    with pytest.raises(ValueError, match="include_outputs: must be True or False, got 'yes'"):
        operator(nextflow_items=[ITEM], wait_for_completion=True, include_outputs="yes")
    with pytest.raises(ValueError, match="include_outputs: needs wait_for_completion=True"):
        operator(nextflow_items=[ITEM], include_outputs=True)  # only a wait sees analyses succeed
    assert operator(nextflow_items=[ITEM], wait_for_completion=True, include_outputs=True).include_outputs is True


def test_template_fields_include_conn_id_and_json_files() -> None:
    op = operator(nextflow_items=[ITEM])
    assert set(op.template_fields) == {
        "project_id", "cwl_items", "nextflow_items", "nextflow_json_items", "idempotency_key", "ica_conn_id",
        "max_failures", "sqs_queue", "aws_conn_id", "reconcile_interval",
    }
    assert ".json" in op.template_ext


def test_idempotency_key_is_stable_and_specific() -> None:
    batch = {"nextflowItems": [ITEM]}
    key = derive_idempotency_key(context(), batch)
    assert key == derive_idempotency_key(context(), json.loads(json.dumps(batch)))
    assert key.startswith("airflow:d:create:manual__2026-01-01T00:00:00+00:00:-1:")
    assert key != derive_idempotency_key(context(map_index=3), batch)
    assert key != derive_idempotency_key(context(run_id="other"), batch)
    assert key != derive_idempotency_key(context(), {"nextflowItems": [{**ITEM, "pipelineId": "q"}]})


def test_idempotency_key_stays_within_255_characters() -> None:
    batch = {"nextflowItems": [ITEM]}
    long_a = derive_idempotency_key(context(dag_id="d" * 250), batch)
    long_b = derive_idempotency_key(context(dag_id="e" * 250), batch)
    assert len(long_a) <= 255
    assert long_a != long_b


def test_no_connection_or_network_in_init(monkeypatch: pytest.MonkeyPatch) -> None:
    from ica_airflow_provider.hooks.ica import IcaHook

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("connection read during __init__")

    monkeypatch.setattr(IcaHook, "get_connection", classmethod(forbidden))
    op = operator(nextflow_items=[ITEM], project_id="p")
    assert "hook" not in vars(op)


@pytest.mark.parametrize(("name", "value"), [("poll_interval", -1), ("timeout", -5), ("page_size", 0)])
def test_bad_wait_numbers_fail_at_parse_time(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        operator(nextflow_items=[ITEM], **{name: value})


def test_a_too_long_idempotency_key_is_named_before_any_request(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICA_DEFAULT",
        json.dumps({"conn_type": "ica", "host": "https://ica.example.test", "password": "k", "extra": {"project_id": "p"}}),
    )
    with pytest.raises(IcaConfigError, match="idempotency_key: 300 characters"):
        operator(nextflow_items=[ITEM], idempotency_key="k" * 300).execute(context())  # type: ignore[arg-type]
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("abort_on_kill", [True, False])
def test_on_kill_respects_abort_on_kill(abort_on_kill: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from ica_airflow_provider.core.tracker import BatchTracker
    from ica_airflow_provider.hooks.ica import IcaHook

    op = operator(nextflow_items=[ITEM], abort_on_kill=abort_on_kill)
    aborted: list[BatchTracker] = []
    monkeypatch.setattr(IcaHook, "abort_running", lambda hook, tracker, log: aborted.append(tracker) or [])
    op.on_kill()  # nothing created yet: nothing to abort
    tracker = op.task_wait.follow("p", "b").tracker  # what execute() does before waiting
    op.on_kill()
    assert aborted == ([tracker] if abort_on_kill else [])


def test_max_failures_may_be_a_template_checked_once_rendered() -> None:
    from ica_airflow_provider.arguments import rendered_max_failures

    op = operator(nextflow_items=[ITEM], wait_for_completion=True, max_failures="{{ params.max_failures }}")
    assert op.max_failures == "{{ params.max_failures }}"
    assert rendered_max_failures(" 2") == 2
    assert rendered_max_failures(0) == 0
    for bad in ("-1", "two", 1.5, True):
        with pytest.raises(ValueError, match=f"max_failures: must be a whole number of 0 or more, got {bad!r}"):
            rendered_max_failures(bad)  # type: ignore[arg-type]
