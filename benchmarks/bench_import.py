"""DAG-parse cost: what importing our operator and sensor adds on top of ``airflow.sdk``.

Each run is a fresh ``python -c`` that times ``import airflow.sdk`` and then the extra
import; ours (``ica_airflow_provider.operators.ica`` + ``ica_airflow_provider.sensors.ica``)
and the HTTP provider's operator (``airflow.providers.http.operators.http``) alternate in
the same run. Target: our extra import at most 15 ms and at most 0.10x the HTTP provider's.

Then ``python -X importtime`` says what our import spends its time on: every module
first imported under ours, the chain that pulled it in, and the share of our total.

    .venv/bin/python benchmarks/bench_import.py [--runs 11] [--importtime-runs 5]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

sys.path.insert(0, __import__("os").path.dirname(__file__))

from _common import REPO, Report, bench_env, finish, fmt_ms, median, run_json_child

OURS = ("ica_airflow_provider.operators.ica", "ica_airflow_provider.sensors.ica")
HTTP = ("airflow.providers.http.operators.http",)
TARGET_MS = 15.0
TARGET_RATIO = 0.10

CHILD = """
import time, json
t0, c0 = time.perf_counter(), time.process_time()
import airflow.sdk
t1, c1 = time.perf_counter(), time.process_time()
{imports}
t2, c2 = time.perf_counter(), time.process_time()
print("RESULT " + json.dumps({{"sdk": t1 - t0, "extra": t2 - t1, "extra_cpu": c2 - c1}}))
"""


def child_code(modules: tuple[str, ...]) -> str:
    return CHILD.format(imports="\n".join(f"import {m}" for m in modules))


def time_imports(modules: tuple[str, ...]) -> dict[str, float]:
    return run_json_child([sys.executable, "-c", child_code(modules)])


# --- -X importtime ------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    level: int
    self_us: int
    cum_us: int
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None


def parse_importtime(stderr: str) -> list[Node]:
    """The top-level nodes of ``-X importtime`` output, with their subtrees."""
    stack: list[Node] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name_field = line[len("import time:") :].split("|", 2)
        name_field = name_field[1:]  # the single space after "|"
        stripped = name_field.lstrip(" ")
        node = Node(stripped.strip(), (len(name_field) - len(stripped)) // 2, int(self_us), int(cum_us))
        while stack and stack[-1].level > node.level:
            child = stack.pop()
            if child.level == node.level + 1:
                child.parent = node
                node.children.insert(0, child)
        stack.append(node)
    return [n for n in stack if n.level == 0]


def walk(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out += walk(child)
    return out


def path_of(node: Node) -> tuple[str, ...]:
    names = []
    current: Node | None = node
    while current is not None:
        names.append(current.name)
        current = current.parent
    return tuple(reversed(names))


def importtime_of_ours() -> list[Node]:
    """Our top-level nodes (everything imported after ``airflow.sdk``) from one run."""
    code = "import airflow.sdk\n" + "\n".join(f"import {m}" for m in OURS)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=bench_env(),
        check=True,
    )
    tops = parse_importtime(proc.stderr)
    names = [n.name for n in tops]
    after = tops[names.index("airflow.sdk") + 1 :]
    return [n for n in after if n.name.startswith("ica_airflow_provider")]


def short(name: str) -> str:
    """``ica_airflow_provider.core.messages`` -> ``~.core.messages``."""
    return "~" + name[len("ica_airflow_provider") :] if is_ours(name) else name


def is_ours(name: str) -> bool:
    return name.split(".")[0] == "ica_airflow_provider"


def analyse_importtime(runs: int, extra_ms: float) -> tuple[list[str], dict[str, float]]:
    """Median self/cumulative per module path over ``runs`` runs; markdown lines and key figures."""
    self_by: dict[tuple[str, ...], list[int]] = defaultdict(list)
    cum_by: dict[tuple[str, ...], list[int]] = defaultdict(list)
    totals: list[int] = []
    for _ in range(runs):
        tops = importtime_of_ours()
        totals.append(sum(n.cum_us for n in tops))
        for top in tops:
            for node in walk(top):
                self_by[path_of(node)].append(node.self_us)
                cum_by[path_of(node)].append(node.cum_us)
    total = median(totals)
    per_ms = extra_ms / total if total else 0.0  # importtime us -> ms of the plain measurement

    def line(path: tuple[str, ...]) -> str:
        cum, own = median(cum_by[path]), median(self_by[path])
        chain = " ← ".join(short(name) for name in reversed(path[:-1])) or "(top level)"
        return (
            f"| `{short(path[-1])}` | {own / 1000:.1f} | {cum / 1000:.1f} | {100 * cum / total:.0f}% |"
            f" ~{cum * per_ms:.0f} | {chain} |"
        )

    header = [
        f"`python -X importtime`, median of {runs} runs; our import totals {total / 1000:.1f} ms under"
        f" importtime (which inflates it) against {extra_ms:.1f} ms measured plainly, so the last but one"
        " column scales each share to the plain measurement.",
        "",
        "| module | self ms | cumulative ms | share | ≈ ms of plain import | imported by |",
        "|---|---|---|---|---|---|",
    ]
    paths = sorted(cum_by, key=lambda p: -median(cum_by[p]))
    # Top entries by cumulative time (nested ones included), then every third-party or
    # stdlib module first imported under ours.
    top = [line(p) for p in paths[:14]]
    foreign = [p for p in paths if not is_ours(p[-1]) and median(cum_by[p]) >= 100]
    foreign_lines = [line(p) for p in foreign]
    figures: dict[str, float] = {"importtime_total_ms": total / 1000}

    def share_of(predicate: object) -> float:
        return sum(median(cum_by[p]) for p in paths if predicate(p)) / total if total else 0.0  # type: ignore[operator]

    models_pkg = [p for p in paths if p[-1] == "ica_airflow_provider.models"]
    request = [p for p in paths if p[-1] == "ica_airflow_provider.models.request"]
    # models.response shows twice: its real import (inside the package's __init__) and the
    # cheap lookup after it; the real one is the one with a body of its own.
    response = sorted(
        (p for p in paths if p[-1] == "ica_airflow_provider.models.response"),
        key=lambda p: -median(self_by[p]),
    )
    own_self = sum(median(self_by[p]) for p in paths if is_ours(p[-1]) and ".models" not in p[-1])
    foreign_self = sum(median(cum_by[p]) for p in foreign if is_ours(p[-2]))
    summary = []
    if models_pkg:
        share = share_of(lambda p: p == models_pkg[0])
        figures["models_share"] = share
        summary.append(
            f"- `ica_airflow_provider.models` package (its `__init__` imports **both** `models.request` and"
            f" `models.response`): {100 * share:.0f}% of our import, ≈ {share * extra_ms:.0f} ms;"
            f" pulled in by {' ← '.join(short(n) for n in reversed(models_pkg[0][:-1]))}."
        )
    if request:
        share = share_of(lambda p: p == request[0])
        figures["request_share"] = share
        summary.append(
            f"- of which `models.request` ({count_classes('request')} strict request models, only needed by the operator's"
            f" `build_batch`, which already imports it lazily): {100 * share:.0f}%, ≈ {share * extra_ms:.0f} ms."
        )
    if response:
        share = share_of(lambda p: p == response[0])
        figures["response_share"] = share
        summary.append(
            f"- of which `models.response` ({count_classes('response')} response models; needed only when a poke parses an"
            f" answer): {100 * share:.0f}%, ≈ {share * extra_ms:.0f} ms."
        )
    summary.append(
        f"- our other modules' own bodies (dataclasses, enums, class definitions):"
        f" {100 * own_self / total:.0f}%, ≈ {own_self / total * extra_ms:.0f} ms."
    )
    summary.append(
        f"- stdlib / third-party modules first imported by us: {100 * foreign_self / total:.0f}%,"
        f" ≈ {foreign_self / total * extra_ms:.0f} ms, already counted in the shares above (pydantic,"
        " requests and httpx are already loaded by `airflow.sdk`, so they cost us nothing here)."
    )
    text = (
        header
        + top
        + (
            [
                "",
                "Stdlib / third-party modules first imported under ours:",
                "",
                *header[2:4],
                *foreign_lines,
                "",
            ]
            if foreign_lines
            else ["", "No stdlib or third-party module is first imported under ours.", ""]
        )
        + summary
    )
    return text, figures


def count_classes(module: str) -> int:
    source = (REPO / "ica_airflow_provider" / "models" / f"{module}.py").read_text()
    return len(re.findall(r"^class \w+\(", source, flags=re.M))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per import (at least 10)")
    parser.add_argument("--importtime-runs", type=int, default=5)
    parser.add_argument("--json", help="write the rows here (for run_all.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    report = Report("import")

    # One discarded run each: byte-code caches and the page cache are warm afterwards.
    time_imports(OURS)
    time_imports(HTTP)
    ours: list[dict[str, float]] = []
    http: list[dict[str, float]] = []
    for i in range(args.runs):
        order = [(OURS, ours), (HTTP, http)] if i % 2 == 0 else [(HTTP, http), (OURS, ours)]
        for modules, sink in order:
            sink.append(time_imports(modules))
        print(
            f"run {i + 1}/{args.runs}: ours +{fmt_ms(ours[-1]['extra'])}, http +{fmt_ms(http[-1]['extra'])}",
            flush=True,
        )

    ours_extra = median(r["extra"] for r in ours) * 1000
    http_extra = median(r["extra"] for r in http) * 1000
    sdk = median(r["sdk"] for r in ours + http) * 1000
    ratio = ours_extra / http_extra if http_extra else float("inf")
    spread = f"min {min(r['extra'] for r in ours) * 1000:.1f}, max {max(r['extra'] for r in ours) * 1000:.1f}"
    print(f"\nimport airflow.sdk: median {sdk:.0f} ms")
    print(f"ours (operators.ica + sensors.ica): median +{ours_extra:.1f} ms ({spread})")
    print(f"HTTP provider operator: median +{http_extra:.1f} ms")
    print(f"ratio ours/http: {ratio:.2f}")

    report.add("1 DAG-parse", "import airflow.sdk (baseline, median)", f"{sdk:.0f} ms")
    report.add(
        "1 DAG-parse",
        f"+ ours: operators.ica + sensors.ica (median of {args.runs})",
        f"{ours_extra:.1f} ms",
        f"<= {TARGET_MS:.0f} ms",
        ours_extra <= TARGET_MS,
        spread,
    )
    report.add("1 DAG-parse", f"+ http provider operator (median of {args.runs})", f"{http_extra:.1f} ms")
    ours_cpu = median(r["extra_cpu"] for r in ours) * 1000
    http_cpu = median(r["extra_cpu"] for r in http) * 1000
    report.add(
        "1 DAG-parse",
        "same, CPU time: ours / http provider",
        f"{ours_cpu:.1f} / {http_cpu:.1f} ms = {ours_cpu / http_cpu:.2f}",
        note="steadier than wall time on a busy machine",
    )
    report.add(
        "1 DAG-parse", "ours / http provider", f"{ratio:.2f}", f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO
    )

    # Always run the breakdown: cheap, and it is what an optimisation starts from.
    lines, figures = analyse_importtime(args.importtime_runs, ours_extra)
    print("\nWhat our import spends its time on\n")
    print("\n".join(lines))
    if "models_share" in figures:
        share = figures["models_share"]
        report.add(
            "1 DAG-parse",
            "share of ours: models package (request + response)",
            f"{100 * share:.0f}% ≈ {share * ours_extra:.0f} ms",
        )
    report.detail("### 1. What our import spends its time on\n\n" + "\n".join(lines))
    finish(report, args.json, started)


if __name__ == "__main__":
    main()
