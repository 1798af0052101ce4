"""Keep the README and the guides in step with the files they show.

A fenced block right after an include comment is a copy of (part of) a file of the repository::

    <!-- include: example_dags/example_ica_cwl_batch.py -->
    ```python
    ...the whole file...
    ```

    <!-- include: example_dags/example_ica_nextflow_batch.py from="    create = " to="analysis=output_folders" -->

``from``/``to``: the excerpt runs from the first line containing ``from`` to the next line
containing ``to`` (both included; ``to="<end>"``: the file's last line), dedented. ``tests/unit/test_docs.py`` fails when a block
differs from its file; this script rewrites the blocks::

    python3 scripts/docs.py --write   # refresh every included block
    python3 scripts/docs.py           # check only; exit 1 and name the stale blocks
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
END = "<end>"  # to="<end>": the excerpt runs to the end of the file
#: The Markdown files people read: the README and the guides.
DOCUMENTS = ("README.md", "CONTRIBUTING.md", "CHANGELOG.md", "docs/*.md", "benchmarks/*.md")

_INCLUDE = re.compile(
    r"<!-- include: (?P<path>\S+)(?: from=\"(?P<start>[^\"]+)\" to=\"(?P<end>[^\"]+)\")? -->\n"
    r"(?P<fence>```(?P<lang>\w*)\n)(?P<body>.*?)^```\n",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Include:
    document: Path
    path: str
    start: str | None
    end: str | None
    body: str

    def wanted(self) -> str:
        """What the block should hold: the file, or its excerpt."""
        text = (REPO / self.path).read_text()
        if self.start is None or self.end is None:
            return text
        lines = text.splitlines(keepends=True)
        first = next(i for i, line in enumerate(lines) if self.start in line)
        last = len(lines) - 1
        if self.end != END:
            last = next(i for i in range(first, len(lines)) if self.end in lines[i])
        return textwrap.dedent("".join(lines[first : last + 1]))

    def describe(self) -> str:
        excerpt = f" (from {self.start!r} to {self.end!r})" if self.start else ""
        return f"{self.document.relative_to(REPO)}: the block of {self.path}{excerpt}"


def documents() -> list[Path]:
    return sorted({path for pattern in DOCUMENTS for path in REPO.glob(pattern)})


def includes(document: Path) -> Iterator[Include]:
    for match in _INCLUDE.finditer(document.read_text()):
        yield Include(document, match["path"], match["start"], match["end"], match["body"])


def refresh(document: Path) -> bool:
    """Rewrite the document's included blocks; True when something changed."""
    text = document.read_text()

    def block(match: re.Match[str]) -> str:
        include = Include(document, match["path"], match["start"], match["end"], match["body"])
        head = match.group(0)[: match.start("body") - match.start(0)]
        return f"{head}{include.wanted()}```\n"

    new = _INCLUDE.sub(block, text)
    if new != text:
        document.write_text(new)
    return new != text


def main() -> int:
    parser = argparse.ArgumentParser(description="Check (or --write) the included blocks of the docs.")
    parser.add_argument("--write", action="store_true", help="rewrite the stale blocks")
    args = parser.parse_args()
    if args.write:
        for document in documents():
            if refresh(document):
                print(f"rewrote {document.relative_to(REPO)}")
        return 0
    stale = [i.describe() for d in documents() for i in includes(d) if i.body != i.wanted()]
    for line in stale:
        print(f"stale: {line}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
