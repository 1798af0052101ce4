"""The catalogue every fake ICA starts with, and valid batch items that use it.

Pipelines (per language, with their input parameter codes; * = required):

- NEXTFLOW ``dragen-germline-nf`` (``GERMLINE_PIPELINE_ID``): fastq_folder*
- NEXTFLOW ``nf-core-rnaseq`` (``RNASEQ_PIPELINE_ID``): reads*, reference
- NEXTFLOW ``nf-core-sarek`` (``SAREK_PIPELINE_ID``, for JSON input forms): input*
- CWL ``tumor-normal-cwl`` (``TUMOR_NORMAL_PIPELINE_ID``): tumor_bam*, normal_bam*, reference
- CWL ``bam-qc-cwl`` (``BAM_QC_PIPELINE_ID``): bam*

Data, visible in every project: ``/fastq/`` (``FASTQ_FOLDER_ID``) with ``<sample>_R1/_R2.fastq.gz``
of the samples NA12878, NA12891, NA12892; ``/tumor-normal/`` (``TUMOR_NORMAL_FOLDER_ID``) with
``<sample>/tumor.bam`` and ``normal.bam`` of PT-001 and PT-002 and a ``reference/`` folder;
``/reference/GRCh38.fa`` (``REFERENCE_FILE_ID``); ``/samplesheets/samplesheet.csv``. And one
folder only ``other-project`` can see: ``OTHER_PROJECT_FOLDER_ID`` (``/shared-elsewhere/``).
"""

from __future__ import annotations

from typing import Any

from ica_airflow_provider.testing.catalogue import Catalogue, Data, InputParameter, Pipeline, data_id_for

GERMLINE_PIPELINE_ID = "bb47d612-5906-4d5a-922e-541262c966df"
RNASEQ_PIPELINE_ID = "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f"
SAREK_PIPELINE_ID = "0f8d3c2b-7a61-4e59-9b1d-2c4e6a8f0b13"
TUMOR_NORMAL_PIPELINE_ID = "6a0a1f1e-2c3b-4d5e-8f90-a1b2c3d4e5f6"
BAM_QC_PIPELINE_ID = "9e2b7c41-3d5a-4f68-8b0c-1a2d3e4f5a6b"

FASTQ_FOLDER_ID = "fol.5f3e9b1c2d4a4e6f8a7b9c0d1e2f3a4b"
TUMOR_NORMAL_FOLDER_ID = "fol.0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REFERENCE_FILE_ID = data_id_for("/reference/GRCh38.fa")
SAMPLESHEET_FILE_ID = data_id_for("/samplesheets/samplesheet.csv")
OTHER_PROJECT = "other-project"
OTHER_PROJECT_FOLDER_ID = data_id_for("/shared-elsewhere/")

FASTQ_SAMPLES = ("NA12878", "NA12891", "NA12892")
TUMOR_NORMAL_SAMPLES = ("PT-001", "PT-002")

PIPELINES = (
    Pipeline(
        GERMLINE_PIPELINE_ID, "dragen-germline-nf", "NEXTFLOW", (InputParameter("fastq_folder"),),
        "Germline small variants from a folder of FASTQs (fake)",
    ),
    Pipeline(
        RNASEQ_PIPELINE_ID, "nf-core-rnaseq", "NEXTFLOW",
        (InputParameter("reads"), InputParameter("reference", required=False)),
        "RNA-seq quantification (fake)", ((".bam", "BAM"), (".quant.sf", "UNKNOWN"), ("_report.html", "HTML")),
    ),
    Pipeline(
        SAREK_PIPELINE_ID, "nf-core-sarek", "NEXTFLOW", (InputParameter("input"),),
        "Variant calling from a samplesheet, started with its JSON input form (fake)",
    ),
    Pipeline(
        TUMOR_NORMAL_PIPELINE_ID, "tumor-normal-cwl", "CWL",
        (InputParameter("tumor_bam"), InputParameter("normal_bam"), InputParameter("reference", required=False)),
        "Somatic variants from a tumor and a normal BAM (fake)",
    ),
    Pipeline(
        BAM_QC_PIPELINE_ID, "bam-qc-cwl", "CWL", (InputParameter("bam"),), "BAM quality control (fake)",
        ((".qc.json", "JSON"), ("_report.html", "HTML")),
    ),
)


def seeded_data() -> list[Data]:
    """The data the fake starts with."""
    data = [Data(FASTQ_FOLDER_ID, "/fastq/"), Data(TUMOR_NORMAL_FOLDER_ID, "/tumor-normal/")]
    paths = [f"/fastq/{sample}_R{read}.fastq.gz" for sample in FASTQ_SAMPLES for read in (1, 2)]
    for sample in TUMOR_NORMAL_SAMPLES:
        paths += [f"/tumor-normal/{sample}/", f"/tumor-normal/{sample}/tumor.bam", f"/tumor-normal/{sample}/normal.bam"]
    paths += ["/tumor-normal/reference/", "/reference/", "/reference/GRCh38.fa", "/samplesheets/"]
    paths += ["/samplesheets/samplesheet.csv"]
    data += [Data(data_id_for(path), path) for path in paths]
    data.append(Data(OTHER_PROJECT_FOLDER_ID, "/shared-elsewhere/", OTHER_PROJECT))
    return data


def seeded_catalogue() -> Catalogue:
    """A new catalogue holding the seeded pipelines and data."""
    catalogue = Catalogue()
    for pipeline in PIPELINES:
        catalogue.add_pipeline(pipeline)
    for data in seeded_data():
        catalogue.add_data(data)
    return catalogue


def fastq_file_id(sample: str, read: int = 1) -> str:
    """The data ID of a seeded sample's FASTQ (``sample`` one of ``FASTQ_SAMPLES``)."""
    return data_id_for(f"/fastq/{sample}_R{read}.fastq.gz")


# --- valid items (ICA's field names) for tests and examples --------------------------------


def nextflow_item(user_reference: str, **extra: Any) -> dict[str, Any]:
    """A ``nextflowItems`` entry the seeded catalogue accepts: germline pipeline on the FASTQ folder."""
    item: dict[str, Any] = {
        "userReference": user_reference,
        "pipelineId": GERMLINE_PIPELINE_ID,
        "analysisInput": {"inputs": [{"parameterCode": "fastq_folder", "dataIds": [FASTQ_FOLDER_ID]}]},
    }
    return {**item, **extra}


def cwl_item(user_reference: str, **extra: Any) -> dict[str, Any]:
    """A ``cwlItems`` entry (JSON input) the seeded catalogue accepts: BAM QC on a seeded BAM."""
    bam = data_id_for("/tumor-normal/PT-001/tumor.bam")
    item: dict[str, Any] = {
        "userReference": user_reference,
        "pipelineId": BAM_QC_PIPELINE_ID,
        "analysisInput": {
            "objectType": "JSON",
            "inputJson": '{"bam": {"class": "File", "location": "tumor.bam"}}',
            "dataIds": [bam],
        },
    }
    return {**item, **extra}


def nextflow_json_item(user_reference: str, **extra: Any) -> dict[str, Any]:
    """A ``nextflowJsonItems`` entry the seeded catalogue accepts: sarek with the seeded samplesheet."""
    item: dict[str, Any] = {
        "userReference": user_reference,
        "pipelineId": SAREK_PIPELINE_ID,
        "inputFormValues": {"fields": [{"id": "input", "dataValues": [{"dataId": SAMPLESHEET_FILE_ID}]}]},
    }
    return {**item, **extra}
