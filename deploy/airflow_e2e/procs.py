"""Long-running child processes: started in their own session, logged to a file, always stopped.

Each component runs in a new session (``start_new_session``). Stopping sends SIGTERM to the
component (which stops its own children), waits a few seconds, then SIGKILLs its process group
and every descendant (psutil): Airflow's task supervisor puts each task
process in a process group of its own. A pid file per component lets the next run kill what a
run that was itself SIGKILLed left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

STOP_TIMEOUT_SECONDS = 5.0


class Component:
    """One long-running command (``airflow scheduler``, ...) with its log file."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.pid_path = log_dir / f"{name}.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self._descendants: list[psutil.Process] = []

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with contextlib.suppress(psutil.Error):  # the start time tells a reused pid apart
            started = psutil.Process(self.process.pid).create_time()
            self.pid_path.write_text(f"{self.process.pid} {started!r}\n")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """SIGTERM to the component, which stops its own children (remembered, to kill later).

        Only the leader: a whole-group SIGTERM also hits the triggerer's trigger runner, which
        the triggerer then waits ~10 s for.
        """
        if self.process is None:
            return
        self._descendants = _descendants(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def finish(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Wait up to ``timeout`` for the SIGTERMed component, then SIGKILL whatever is left of it.

        The triggerer gives its trigger runner 10 s (or 5 s after a second signal) before it
        exits: not worth waiting for when the whole deployment goes away.
        """
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        _kill_all(self.process.pid, self._descendants + _descendants(self.process.pid))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.pid_path.unlink(missing_ok=True)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self.terminate()
        self.finish(timeout)

    def tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def kill_leftovers(log_dir: Path) -> list[str]:
    """Kill the components (and descendants) named by pid files a previous run left behind."""
    killed = []
    for pid_file in sorted(log_dir.glob("*.pid")):
        with contextlib.suppress(ValueError, OSError, psutil.Error):
            pid_text, started = pid_file.read_text().split()
            pid = int(pid_text)
            if psutil.Process(pid).create_time() == float(started):  # not a reused pid
                _kill_all(pid, [psutil.Process(pid), *_descendants(pid)])
                killed.append(f"{pid_file.stem} (pid {pid})")
        pid_file.unlink(missing_ok=True)
    return killed


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill_all(pid: int, processes: list[psutil.Process]) -> None:
    _signal_group(pid, signal.SIGKILL)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running():  # psutil checks it is still the same process (pid reuse)
                # A task process leads a group of its own: kill that group too.
                _signal_group(process.pid, signal.SIGKILL)
                process.kill()
    psutil.wait_procs(processes, timeout=5)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    input_text: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """A short command, its output captured; on failure the error says what it printed."""
    started = time.monotonic()
    try:
        result = subprocess.run(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s") from error
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise RuntimeError(
            f"`{' '.join(argv)}` exited {result.returncode} after {time.monotonic() - started:.1f} s:\n"
            + "\n".join(output)
        )
    return result


def as_root(*argv: str, user: str | None = None) -> list[str]:
    """``argv`` as root (or as ``user``): directly when we are root, else through ``sudo -n``."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *argv] if user else list(argv)
    return ["sudo", "-n", *(["-u", user] if user else []), *argv]


def apt_install(*packages: str) -> None:
    """``apt-get install`` from the machine's Debian/Ubuntu packages (root or passwordless sudo)."""
    if not shutil.which("apt-get"):
        raise RuntimeError(f"{', '.join(packages)} not installed and this machine has no apt-get: install it first")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(as_root("apt-get", "update", "-q"), env=env, timeout=600)
    run(as_root("apt-get", "install", "-y", "-q", "--no-install-recommends", *packages), env=env, timeout=900)
