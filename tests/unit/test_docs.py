"""The README and the guides cannot rot: shown files, links, Python blocks and the marker table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ica_airflow_provider.testing import MARKERS
from tests.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
FAKE_SERVER_GUIDE = REPO / "docs" / "fake-server.md"
_LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.DOTALL | re.MULTILINE)


docs = load_script("docs")
DOCUMENTS = docs.documents()


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = _FENCE.sub("", document.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


def python_blocks(document: Path) -> list[str]:
    """Python blocks written in the document (included files are checked by their own tests)."""
    text = document.read_text()
    included = {m.start("fence") for m in docs._INCLUDE.finditer(text)}
    return [m["body"] for m in _FENCE.finditer(text) if m["lang"] == "python" and m.start() not in included]


def test_the_readme_starts_with_the_two_commands_and_stays_short() -> None:
    text = README.read_text()
    lines = text.splitlines()
    assert lines[:3] == ["# ica-airflow-provider", "", "```bash"], lines[:3]
    assert lines[3].startswith("make demo ") and lines[4].startswith("make test "), lines[3:5]
    assert len(text.encode()) <= 15_000, f"README.md is {len(text.encode())} bytes, over 15 KB"
    # How long CI or the tests take is for CONTRIBUTING.md, not for the people who use the package.
    assert not re.search(r"\d\s*(min|minutes|seconds on)\b", text), "README.md talks about durations"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_included_blocks_equal_their_files(document: Path) -> None:
    stale = [i.describe() for i in docs.includes(document) if i.body != i.wanted()]
    assert not stale, f"{stale}: python3 scripts/docs.py --write"


def test_the_readme_shows_a_whole_example_dag() -> None:
    shown = {i.path for i in docs.includes(README) if i.start is None}
    assert any(path.startswith("example_dags/") and path.endswith(".py") for path in shown), shown


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_internal_links_resolve(document: Path) -> None:
    broken = []
    for match in _LINK.finditer(_FENCE.sub("", document.read_text())):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not ours to check
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert not broken, f"{document.relative_to(REPO)}: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_python_blocks_parse_and_dags_are_example_files(document: Path) -> None:
    """Written blocks must parse; a DAG is shown from example_dags/, which the e2e tests run."""
    for block in python_blocks(document):
        ast.parse(block)  # a SyntaxError names the line
        assert "DAG(" not in block, f"{document.relative_to(REPO)}: include the DAG from example_dags/ instead"


def test_every_guide_is_linked_from_the_readme() -> None:
    linked = {m["target"].partition("#")[0] for m in _LINK.finditer(README.read_text())}
    guides = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert guides <= linked, f"not linked from README.md: {sorted(guides - linked)}"


def marker_table() -> dict[str, str]:
    """The one marker table, in docs/fake-server.md: marker -> what the fake server does."""
    rows = re.findall(r"^\| `([a-z-]+)` \| (.+) \|$", FAKE_SERVER_GUIDE.read_text(), re.MULTILINE)
    return dict(rows)


def test_the_marker_table_names_every_marker_once() -> None:
    assert sorted(marker_table()) == sorted(MARKERS)


@pytest.mark.parametrize("example", sorted((REPO / "example_dags").glob("*.py")), ids=lambda p: p.name)
def test_example_dags_name_the_markers_and_link_the_table(example: Path) -> None:
    """The UI's *Docs* name the markers in one line and point at the table (never a copy of it)."""
    doc_md = ast.literal_eval(
        next(
            node.value
            for node in ast.parse(example.read_text()).body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOC_MD"
        )
    )
    named = {marker for marker in MARKERS if f"`{marker}`" in doc_md}
    assert named == set(MARKERS), f"{example.name}: markers named {sorted(named)}"
    assert "docs/fake-server.md#markers" in doc_md
    assert "| marker |" not in doc_md, "the marker table is written once, in docs/fake-server.md"


def test_openlineage_facet_schema_url_points_at_a_readme_heading() -> None:
    """The PyPI page is the README: the facet's schema URL must name one of its headings."""
    from ica_airflow_provider import openlineage

    url = openlineage.FACET_SCHEMA_URL
    assert url.startswith("https://pypi.org/project/ica-airflow-provider/")
    assert url.partition("#")[2] in anchors(README), url
