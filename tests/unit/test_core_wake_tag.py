"""The technical tag a woken wait's batch carries: stable per Idempotency-Key, added without loss."""

from __future__ import annotations

import copy
from typing import Any

from ica_airflow_provider.core.wake import WAIT_TAG_PREFIX, wait_tag, with_wait_tag


def test_the_tag_is_the_same_for_a_key_and_differs_between_keys_and_projects() -> None:
    tag = wait_tag("project-1", "airflow:dag:task:run:-1:abc")
    assert tag == wait_tag("project-1", "airflow:dag:task:run:-1:abc") != wait_tag("project-1", "airflow:dag:task:run2:-1:abc")
    assert tag != wait_tag("project-2", "airflow:dag:task:run:-1:abc")  # ICA scopes a key per project
    assert tag.startswith(WAIT_TAG_PREFIX) and len(tag) == len(WAIT_TAG_PREFIX) + 24
    assert "dag" not in tag  # names nothing of the DAG in ICA


def test_every_item_of_every_list_gets_the_tag_once_and_keeps_its_own() -> None:
    batch: dict[str, Any] = {
        "nextflowItems": [
            {"userReference": "a", "tags": {"technicalTags": ["mine"], "userTags": ["u"]}},
            {"userReference": "b"},
        ],
        "cwlItems": [{"userReference": "c", "tags": {"technicalTags": None}}],
    }
    before = copy.deepcopy(batch)
    tagged = with_wait_tag(batch, "airflow-wait:t")
    assert batch == before  # the request as rendered is left as it was
    assert tagged["nextflowItems"][0]["tags"] == {"technicalTags": ["mine", "airflow-wait:t"], "userTags": ["u"]}
    assert tagged["nextflowItems"][1]["tags"] == {"technicalTags": ["airflow-wait:t"]}
    assert tagged["cwlItems"][0]["tags"] == {"technicalTags": ["airflow-wait:t"]}
    assert with_wait_tag(tagged, "airflow-wait:t") == tagged  # a retry's request: the same body
