"""The pytest examples written in the guides run as written, with the plugin's fixtures."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```python\n(?P<body>.*?)^```\n", re.DOTALL | re.MULTILINE)


def example_tests() -> list[tuple[str, str]]:
    """(document, block) for each Python block of the docs that defines a ``test_`` function."""
    tool = load_script("docs")
    found = []
    for document in tool.documents():
        text = document.read_text()
        included = {m.start("fence") for m in tool._INCLUDE.finditer(text)}
        for match in _FENCE.finditer(text):
            if match.start() not in included and re.search(r"^def test_", match["body"], re.MULTILINE):
                found.append((str(document.relative_to(REPO)), match["body"]))
    return found


EXAMPLES = example_tests()


def test_the_fake_server_guide_has_a_pytest_example() -> None:
    assert "docs/fake-server.md" in {document for document, _ in EXAMPLES}


@pytest.mark.parametrize(("document", "block"), EXAMPLES, ids=[d for d, _ in EXAMPLES])
def test_example_runs(document: str, block: str, request: pytest.FixtureRequest) -> None:
    namespace: dict[str, Any] = {"__name__": f"doc_example_{Path(document).stem}"}
    exec(compile(block, document, "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests
    for test in tests:
        test(**{name: request.getfixturevalue(name) for name in inspect.signature(test).parameters})
