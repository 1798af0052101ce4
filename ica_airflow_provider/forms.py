"""JSON-schema rules for DAG params (trigger forms) that refuse what the operator would refuse.

Airflow checks a trigger form with jsonschema, whose message for a pattern is
``'<value>' does not match '<pattern>'``. Each pattern here therefore opens with a regex
comment, ``(?# ...)``, that says the rule in words (no parentheses inside: a comment ends at the
first ``)``): the message then tells a person what to type. Use them as ``Param(default, type="string", pattern=PIPELINE_ID_PATTERN, ...)`` or
``Param(samples, **sample_names_schema())``. Spaces around a value are allowed (a form box
easily gets a trailing newline): strip them when building the request.

No imports: DAG files read this at parse time.
"""

from __future__ import annotations

from typing import Any

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# One userReference part per the ICA spec (^[a-zA-Z0-9 _-]*(/[a-zA-Z0-9 _-]+)*$): no dots.
_NAME = r"[a-zA-Z0-9 _-]+(/[a-zA-Z0-9 _-]+)*"

PIPELINE_ID_PATTERN = (
    r"^(?# an ICA pipeline ID is a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6)\s*" + _UUID + r"\s*$"
)
DATA_ID_PATTERN = (
    r"^(?# an ICA data ID is fil. for a file or fol. for a folder, and 32 hexadecimal digits)"
    r"\s*(fil|fol)\.[0-9a-fA-F]{32}\s*$"
)
FOLDER_ID_PATTERN = r"^(?# an ICA folder ID is fol. and 32 hexadecimal digits)\s*fol\.[0-9a-fA-F]{32}\s*$"
SAMPLE_NAME_PATTERN = (
    r"^(?# a sample name has only letters, digits, spaces, _ and -, with / only between two parts;"
    r" no dots)\s*(" + _NAME + r")?\s*$"
)
_ONLY_BLANKS = r"^(?# only blank lines: give at least one sample name)\s*$"


def sample_names_schema() -> dict[str, Any]:
    """An array of sample names, one per line in the form; blank lines pass, only blank ones do not."""
    return {
        "type": "array",
        "items": {"type": "string", "pattern": SAMPLE_NAME_PATTERN},
        "minItems": 1,
        # Refuses a box of blank lines, whose message then quotes the rule above.
        "not": {"items": {"type": "string", "pattern": _ONLY_BLANKS}},
    }
