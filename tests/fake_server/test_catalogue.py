"""The catalogue: an item naming what does not exist (or what its project cannot see) fails as in ICA."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from ica_airflow_provider.testing import ManualClock, seed
from ica_airflow_provider.testing.catalogue import data_id_for
from ica_airflow_provider.testing.server import FakeIcaServer, build_parser

from .helpers import PROJECT_ID, IcaClient, cwl_item, nextflow_item, nextflow_json_item

PIPELINE = str(uuid.uuid4())
EXTRA = {
    "pipelines": [
        {"id": PIPELINE, "code": "my-wgs", "language": "NEXTFLOW", "inputs": ["reads", {"code": "bed", "required": False}]}
    ],
    "data": [{"path": "/runs/S9_R1.fastq.gz"}, {"path": "/private/", "project_id": "lab-b"}],
}


@pytest.fixture
def timed(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, ManualClock]:
    clock = ManualClock()
    return client_factory(clock=clock), clock


def created(client: IcaClient, clock: ManualClock, body: dict[str, Any], project_id: str = PROJECT_ID) -> dict[str, Any]:
    """The items of a new batch once every creation has ended, by userReference."""
    response = client.create_batch(body, project_id=project_id)
    assert response.status_code == 201, response.text
    clock.advance(60)
    url = f"{client.url}/api/projects/{project_id}/analysisCreationBatch/{response.json()['id']}/items"
    items = client.session.get(url, headers=client.headers(4)).json()["items"]
    return {item["request"]["userReference"]: item for item in items}


def reason(item: dict[str, Any]) -> str:
    assert item["processing"]["status"] == "FAILED"
    assert "createdAnalysis" not in item
    return str(item["processing"]["additionalStatusInformation"])


def test_every_seeded_item_kind_is_created(timed: tuple[IcaClient, ManualClock]) -> None:
    body = {"cwlItems": [cwl_item("c")], "nextflowItems": [nextflow_item("n")], "nextflowJsonItems": [nextflow_json_item("j")]}
    items = created(*timed, body)
    assert {ref: item["createdAnalysis"]["status"] for ref, item in items.items()} == dict.fromkeys("cjn", "SUCCEEDED")
    codes = {ref: item["createdAnalysis"]["pipeline"]["code"] for ref, item in items.items()}
    assert codes == {"c": "bam-qc-cwl", "n": "dragen-germline-nf", "j": "nf-core-sarek"}


def test_unknown_pipeline_fails_the_creation(timed: tuple[IcaClient, ManualClock]) -> None:
    unknown = str(uuid.uuid4())
    items = created(*timed, {"nextflowItems": [nextflow_item("good"), nextflow_item("bad", pipelineId=unknown)]})
    assert reason(items["bad"]) == f"Pipeline with id '{unknown}' not found"
    assert items["good"]["createdAnalysis"]["status"] == "SUCCEEDED"
    client, _ = timed
    batch = client.server.backend.batches
    (record,) = batch.values()
    assert client.get_batch(record.id).json()["job"]["status"] == "PARTIALLY_SUCCEEDED"


def test_a_pipeline_of_another_language_fails_the_creation(timed: tuple[IcaClient, ManualClock]) -> None:
    items = created(*timed, {"cwlItems": [cwl_item("x", pipelineId=seed.GERMLINE_PIPELINE_ID)]})
    assert reason(items["x"]) == (
        "Pipeline 'dragen-germline-nf' is a NEXTFLOW pipeline and cannot run as a CWL analysis"
    )


def test_unknown_data_fails_the_creation_naming_each_id(timed: tuple[IcaClient, ManualClock]) -> None:
    missing = "fil." + "0" * 32
    analysis_input = {"inputs": [{"parameterCode": "fastq_folder", "dataIds": ["not-a-folder", missing]}]}
    items = created(*timed, {"nextflowItems": [nextflow_item("x", analysisInput=analysis_input)]})
    assert reason(items["x"]) == f"Data with id 'not-a-folder' not found; Data with id '{missing}' not found"


def test_unknown_data_in_mounts_and_json_forms_fails_too(timed: tuple[IcaClient, ManualClock]) -> None:
    missing = "fil." + "1" * 32
    json_form = {"fields": [{"id": "input", "dataValues": [{"dataId": missing}]}]}
    mounts = {"objectType": "JSON", "inputJson": '{"bam": {}}', "mounts": [{"dataId": missing, "mountPath": "a.bam"}]}
    items = created(
        *timed,
        {"nextflowJsonItems": [nextflow_json_item("j", inputFormValues=json_form)], "cwlItems": [cwl_item("c", analysisInput=mounts)]},
    )
    assert reason(items["j"]) == reason(items["c"]) == f"Data with id '{missing}' not found"


def test_missing_required_input_fails_the_creation(timed: tuple[IcaClient, ManualClock]) -> None:
    no_value = {"inputs": [{"parameterCode": "fastq_folder", "dataIds": []}]}
    cwl_json = {"objectType": "JSON", "inputJson": '{"tumor_bam": {"class": "File"}}', "dataIds": []}
    body = {
        "nextflowItems": [nextflow_item("nf", analysisInput=no_value)],
        "cwlItems": [cwl_item("cwl", pipelineId=seed.TUMOR_NORMAL_PIPELINE_ID, analysisInput=cwl_json)],
    }
    items = created(*timed, body)
    assert reason(items["nf"]) == (
        "Pipeline input validation failed: required input parameter(s) 'fastq_folder'"
        " of pipeline 'dragen-germline-nf' have no value"
    )
    assert "'normal_bam' of pipeline 'tumor-normal-cwl'" in reason(items["cwl"])


def test_an_input_code_the_pipeline_lacks_fails_the_creation(timed: tuple[IcaClient, ManualClock]) -> None:
    inputs = {"inputs": [{"parameterCode": "fastq_folder", "dataIds": [seed.FASTQ_FOLDER_ID]},
                         {"parameterCode": "fastqs", "dataIds": [seed.FASTQ_FOLDER_ID]}]}
    items = created(*timed, {"nextflowItems": [nextflow_item("x", analysisInput=inputs)]})
    assert reason(items["x"]) == (
        "Pipeline input validation failed: pipeline 'dragen-germline-nf' has no input parameter(s)"
        " 'fastqs' (it has 'fastq_folder')"
    )


def test_data_of_another_project_fails_there_only(timed: tuple[IcaClient, ManualClock]) -> None:
    folder = seed.OTHER_PROJECT_FOLDER_ID
    body = {"nextflowItems": [nextflow_item("x", analysisInput={"inputs": [{"parameterCode": "fastq_folder", "dataIds": [folder]}]})]}
    items = created(*timed, body)
    assert reason(items["x"]) == f"Data with id '{folder}' is not accessible from project '{PROJECT_ID}'"
    items = created(*timed, body, project_id=seed.OTHER_PROJECT)
    assert items["x"]["createdAnalysis"]["status"] == "SUCCEEDED"


def test_the_catalogue_refusal_wins_over_markers(timed: tuple[IcaClient, ManualClock]) -> None:
    items = created(*timed, {"nextflowItems": [nextflow_item("x-fail-analysis", pipelineId=str(uuid.uuid4()))]})
    assert reason(items["x-fail-analysis"]).startswith("Pipeline with id")


def test_outputs_follow_the_pipeline(timed: tuple[IcaClient, ManualClock]) -> None:
    inputs = {"inputs": [{"parameterCode": "reads", "dataIds": [seed.fastq_file_id("NA12878")]}]}
    items = created(*timed, {"nextflowItems": [nextflow_item("S1", pipelineId=seed.RNASEQ_PIPELINE_ID, analysisInput=inputs)]})
    client, _ = timed
    url = f"{client.url}/api/projects/{PROJECT_ID}/analyses/{items['S1']['createdAnalysis']['id']}/outputs"
    (output,) = client.session.get(url, headers=client.headers(3)).json()["items"]
    (folder,) = output["data"]
    assert folder["name"].startswith("S1-nf-core-rnaseq-")
    assert [child["name"] for child in folder["children"]] == ["S1.bam", "S1.quant.sf", "S1_report.html"]


def test_admin_endpoint_adds_records_and_lists_them(timed: tuple[IcaClient, ManualClock]) -> None:
    client, clock = timed
    admin = client.server.root_url + "/_fake/catalogue"
    added = requests.post(admin, json=EXTRA)
    assert added.status_code == 201
    reads = data_id_for("/runs/S9_R1.fastq.gz")
    assert added.json() == {"pipelines": [PIPELINE], "data": [reads, data_id_for("/private/")]}
    listed = requests.get(admin).json()
    assert {"id": reads, "path": "/runs/S9_R1.fastq.gz", "project_id": None} in listed["data"]
    assert any(p["code"] == "my-wgs" for p in listed["pipelines"])
    analysis_input = {"inputs": [{"parameterCode": "reads", "dataIds": [reads]}]}
    items = created(client, clock, {"nextflowItems": [nextflow_item("S9", pipelineId=PIPELINE, analysisInput=analysis_input)]})
    assert items["S9"]["createdAnalysis"]["pipeline"]["code"] == "my-wgs"


def test_admin_endpoint_refuses_a_bad_record_and_adds_nothing(client: IcaClient) -> None:
    admin = client.server.root_url + "/_fake/catalogue"
    before = requests.get(admin).json()
    bad = {"pipelines": [EXTRA["pipelines"][0], {"id": "p", "code": "x", "language": "WDL"}], "data": [{"path": "x"}]}
    refused = requests.post(admin, json=bad)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["parameters"] == {
        "pipelines[1]": "id: must be a UUID",
        "data[0]": "path: must be an absolute path such as /fastq/S1_R1.fastq.gz (a folder ends with '/')",
    }
    assert requests.get(admin).json() == before


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_the_cli_loads_a_catalogue_file(suffix: str, tmp_path: Path) -> None:
    file = tmp_path / f"catalogue{suffix}"
    if suffix == ".json":
        file.write_text(json.dumps(EXTRA))
    else:
        import yaml

        file.write_text(yaml.safe_dump(EXTRA))
    args = build_parser().parse_args(["--catalogue-file", str(file)])
    from ica_airflow_provider.testing.config import FakeIcaConfig

    server = FakeIcaServer(FakeIcaConfig(**vars(args)))
    assert server.backend.catalogue.pipelines[PIPELINE].code == "my-wgs"
    assert server.backend.catalogue.data[data_id_for("/private/")].project_id == "lab-b"
    assert seed.GERMLINE_PIPELINE_ID in server.backend.catalogue.pipelines  # added to the seeded ones


def test_a_bad_catalogue_file_names_the_file_and_record(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"data": [{"path": "/a/", "id": "fil." + "a" * 32}]}))
    from ica_airflow_provider.testing.config import FakeIcaConfig

    with pytest.raises(ValueError, match=r"bad\.json: Invalid catalogue .*data\[0\]: id: must be 'fol\.'"):
        FakeIcaServer(FakeIcaConfig(catalogue_file=str(file)))


def test_the_pytest_factory_takes_a_catalogue(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> None:
    server = ica_fake_server_factory(catalogue=EXTRA)
    assert server.backend.catalogue.pipelines[PIPELINE].required_codes == ["reads"]


def test_web_page_of_a_catalogue_folder_lists_what_the_project_sees(client: IcaClient) -> None:
    web = client.url.removesuffix("/rest")
    page = requests.get(f"{web}/link/project/{PROJECT_ID}/data/{seed.FASTQ_FOLDER_ID}")
    assert page.status_code == 200
    assert "/fastq/" in page.text and "NA12878_R1.fastq.gz" in page.text and "FASTQ" in page.text
    hidden = requests.get(f"{web}/link/project/{PROJECT_ID}/data/{seed.OTHER_PROJECT_FOLDER_ID}")
    assert hidden.status_code == 404
    shown = requests.get(f"{web}/link/project/{seed.OTHER_PROJECT}/data/{seed.OTHER_PROJECT_FOLDER_ID}")
    assert shown.status_code == 200


def test_web_pages_show_the_catalogues_pipeline(timed: tuple[IcaClient, ManualClock]) -> None:
    items = created(*timed, {"nextflowItems": [nextflow_item("S1")]})
    client, _ = timed
    web = client.url.removesuffix("/rest")
    analysis = requests.get(f"{web}/link/project/{PROJECT_ID}/analysis/{items['S1']['createdAnalysis']['id']}")
    assert "<dd>dragen-germline-nf</dd>" in analysis.text
    listing = requests.get(f"{web}/projects/{PROJECT_ID}/analyses")
    assert "<td>dragen-germline-nf</td>" in listing.text
