"""Shared helpers of the benchmark scripts: environment, fake server process, stats, output.

Every script prints its own figures; with ``--json PATH`` it also writes them as rows
that ``run_all.py`` gathers into one table. Nothing here asserts a target: figures are
reported, with the target and whether it was met, and the exit status stays 0.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ica_airflow_provider.testing import seed

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
API_KEY = "bench-api-key"
PROJECT_ID = "bench-project"
V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"
SERVER_START_TIMEOUT = 60.0


# --- environment ---------------------------------------------------------------------------


def airflow_home() -> str:
    """A private Airflow home, so that the benchmarks never touch the user's."""
    home = Path(tempfile.gettempdir()) / "ica-airflow-bench-home"
    home.mkdir(parents=True, exist_ok=True)
    return str(home)


def pycache_prefix() -> str:
    path = Path(tempfile.gettempdir()) / "ica-airflow-bench-pycache"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child process: private Airflow home, no inherited connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["AIRFLOW_HOME"] = airflow_home()
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    # Byte-code caches on, but outside the source tree: an installed provider has its .pyc
    # files, so import times are measured with them (PYTHONDONTWRITEBYTECODE would make
    # every child compile our modules from source, and not Airflow's).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache_prefix()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def apply_bench_env() -> None:
    """Set up this process like :func:`bench_env` (before Airflow is imported)."""
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
        del os.environ[name]
    os.environ["AIRFLOW_HOME"] = airflow_home()
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"


def ica_connection_json(url: str, api_key: str = API_KEY) -> str:
    """``AIRFLOW_CONN_ICA_DEFAULT`` pointing at a fake server."""
    return json.dumps({"conn_type": "ica", "host": url, "password": api_key})


# --- the fake server in its own process ---------------------------------------------------


class ServerProcess:
    """``python -m ica_airflow_provider.testing`` on a free loopback port, in a child process.

    Its CPU time is read from ``/proc/<pid>/stat``, so benchmarks can say how much of a
    wall time the server spent.
    """

    def __init__(self, **options: Any) -> None:
        args = [sys.executable, "-m", "ica_airflow_provider.testing", "--host", "127.0.0.1", "--port", "0"]
        args += ["--api-key", API_KEY, "--log-level", "warning"]
        for name, value in options.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=None, text=True, env=bench_env(), cwd=REPO
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "listening on" in line or not line:
                break
        match = re.search(r"(http://127\.0\.0\.1:\d+/\S*)", line)
        if not match:
            self.__exit__(None, None, None)
            raise RuntimeError(f"fake ICA server did not start: {line!r}")
        self.url = match.group(1).rstrip("/")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")


def mint_token(session: Any, url: str) -> str:
    """``POST /api/tokens`` with the API key (works for any server process)."""
    response = session.post(url + "/api/tokens", headers={"X-API-Key": API_KEY, "Accept": V3}, timeout=30)
    response.raise_for_status()
    return str(response.json()["token"])


def batch_items(n: int, stragglers: Sequence[int] = ()) -> list[dict[str, Any]]:
    """``n`` Nextflow items; the indexes in ``stragglers`` carry the ``run-long`` marker."""
    long = set(stragglers)
    return [
        {
            "userReference": f"bench-{i:05d}" + ("-run-long" if i in long else ""),
            "pipelineId": seed.GERMLINE_PIPELINE_ID,  # the fake's seeded catalogue
            "analysisInput": {
                "inputs": [{"parameterCode": "fastq_folder", "dataIds": [seed.FASTQ_FOLDER_ID]}],
                "parameters": [{"code": "sample_id", "value": f"S{i:05d}"}],
            },
        }
        for i in range(n)
    ]


def create_batch_http(
    session: Any, url: str, token: str, items: list[dict[str, Any]]
) -> tuple[str, float, int]:
    """POST a batch; returns ``(batch id, seconds, body bytes)``."""
    body = json.dumps({"nextflowItems": items}, separators=(",", ":")).encode()
    headers = {"Authorization": f"Bearer {token}", "Accept": V3, "Content-Type": V3}
    start = time.perf_counter()
    response = session.post(
        f"{url}/api/projects/{PROJECT_ID}/analysisCreationBatch", data=body, headers=headers, timeout=300
    )
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return str(response.json()["id"]), elapsed, len(body)


# --- child processes that print one JSON line -----------------------------------------------


def run_json_child(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 600
) -> dict[str, Any]:
    """Run a child that prints ``RESULT <json>`` as its last such line; return that JSON."""
    proc = subprocess.run(
        list(args), capture_output=True, text=True, env=env or bench_env(), cwd=REPO, timeout=timeout
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(
        f"child {' '.join(args[:3])}… exited {proc.returncode} without a result:\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )


def print_result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data), flush=True)


# --- rows and output ------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary table."""

    benchmark: str
    metric: str
    value: str
    target: str = ""
    met: bool | None = None  # None: informational, no target
    note: str = ""


@dataclass
class Report:
    """What one script hands to ``run_all.py``: rows plus free-form detail sections."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # markdown blocks for RESULTS.md
    seconds: float = 0.0

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.rows.append(Row(*args, **kwargs))

    def detail(self, text: str) -> None:
        self.details.append(text)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": [asdict(r) for r in self.rows],
            "details": self.details,
            "seconds": self.seconds,
        }


def finish(report: Report, json_path: str | None, started: float) -> None:
    """Print the script's rows and, when asked, write them for ``run_all.py``."""
    report.seconds = time.perf_counter() - started
    print()
    print(format_table(report.rows))
    print(f"({report.name}: {report.seconds:.1f} s)")
    if json_path:
        Path(json_path).write_text(json.dumps(report.to_json(), indent=1))


def met_text(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**NO**")


def format_table(rows: Iterable[Row], markdown: bool = False) -> str:
    header = ["benchmark", "metric", "value", "target", "met"]
    body = [[r.benchmark, r.metric, r.value, r.target, met_text(r.met)] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in body]
        return "\n".join(lines)
    plain = [[c.replace("**", "") for c in line] for line in body]
    widths = [
        max(len(h), *(len(line[i]) for line in plain)) if plain else len(h) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in plain]
    return "\n".join(out)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


# --- memory of this process -----------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0); ``False`` where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_kib() -> tuple[int, int]:
    """``(VmRSS, VmHWM)`` of this process in KiB (``(0, 0)`` off Linux)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    values = {}
    for key in ("VmRSS", "VmHWM"):
        match = re.search(key + r":\s+(\d+)", text)
        values[key] = int(match.group(1)) if match else 0
    return values["VmRSS"], values["VmHWM"]


# --- the machine ----------------------------------------------------------------------------


def machine_info(python: str | None = None) -> dict[str, str]:
    """nproc, CPU model, OS, and the versions the figures came from."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    code = (
        "import json, importlib.metadata as m, platform\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return 'not installed'\n"
        "print(json.dumps({'python': platform.python_version(), 'airflow': v('apache-airflow'),"
        " 'airflow_task_sdk': v('apache-airflow-task-sdk'), 'http_provider': v('apache-airflow-providers-http'),"
        " 'pydantic': v('pydantic'), 'requests': v('requests'), 'libica': v('libica'),"
        " 'ica_airflow_provider': v('ica-airflow-provider')}))"
    )
    versions = json.loads(
        subprocess.run(
            [python or sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ica_airflow_provider"],
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout.strip()
        commit += " (with uncommitted changes under ica_airflow_provider/)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "commit": commit,
        "nproc": str(os.cpu_count()),
        "affinity": str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "?",
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        **versions,
    }
