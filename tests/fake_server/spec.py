"""Load the ICA OpenAPI subset and check HTTP responses against it.

The spec lives outside the repo, at ``<repo>/../shared/ica-api/``. When it is missing the
tests that need it skip, unless ``ICA_REQUIRE_SPEC=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator, oas30_format_checker

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "ica-api" / "openapi-analysis-creation-batch.json"
# The whole spec, for operations outside the extracted subset (analysis outputs).
FULL_SPEC_PATH = SPEC_PATH.with_name("openapi-full.yaml")
BASE_PATH = "/ica/rest"


@functools.cache
def _read_spec(path: Path) -> dict[str, Any]:
    if path.suffix == ".yaml":
        import yaml  # Airflow's own dependency; only this file needs it

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 20 times faster
        full: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)
        return full
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The parsed spec; skips (or fails with ``ICA_REQUIRE_SPEC=1``) if the file is absent."""
    if not path.is_file():
        message = f"ICA spec not found at {path} (it lives outside the repo, in ../shared/ica-api/)"
        if os.environ.get("ICA_REQUIRE_SPEC") == "1":
            pytest.fail(message + "; ICA_REQUIRE_SPEC=1 makes its absence a failure")
        pytest.skip(message + "; set ICA_REQUIRE_SPEC=1 to make this a failure")
    return _read_spec(path)


_VALIDATORS: dict[tuple[int, str], OAS30Validator] = {}


def schema_errors(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """Violations of ``schema`` (which may be a ``$ref`` into the spec's components)."""
    key = (id(spec), json.dumps(schema, sort_keys=True))
    validator = _VALIDATORS.get(key)
    if validator is None:
        # Validators are reused: building one resolves the components anew each time.
        wrapped = {**schema, "components": spec["components"]}
        validator = _VALIDATORS[key] = OAS30Validator(wrapped, format_checker=oas30_format_checker)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    )


def assert_schema(spec: dict[str, Any], name: str, instance: Any) -> None:
    """Assert ``instance`` is a valid ``components/schemas/<name>``."""
    errors = schema_errors(spec, {"$ref": f"#/components/schemas/{name}"}, instance)
    assert not errors, f"{name} violations:\n" + "\n".join(errors)


def assert_response(spec: dict[str, Any], path_template: str, response: requests.Response) -> None:
    """Assert a response matches what the spec declares for its operation and status code.

    Checks the media type is one the operation declares for that status (or ``default``),
    validates the body against that media type's schema, and checks declared headers exist.
    """
    method = response.request.method
    assert method is not None
    operation = spec["paths"][path_template][method.lower()]
    status = str(response.status_code)
    declared = operation["responses"].get(status) or operation["responses"]["default"]
    content = declared.get("content")
    if not content:
        assert not response.content, f"{status} must have no body"
        return
    media_type = response.headers.get("Content-Type", "").split(";")[0]
    assert media_type in content, f"{media_type!r} not declared for {method} {path_template} {status}"
    schema = content[media_type]["schema"]
    errors = schema_errors(spec, schema, response.json())
    assert not errors, f"{method} {path_template} {status} violations:\n" + "\n".join(errors)
    for header in declared.get("headers", {}):
        assert header in response.headers, f"missing declared header {header}"
