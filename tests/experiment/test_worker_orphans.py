"""Worker processes end when their driver is killed (SIGTERM or SIGKILL): daemon processes
are only stopped by a driver that exits normally, and an orphan would go on computing. SIGTERM
is handled (the driver stops its workers and exits 143); SIGKILL leaves it to the workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sociallearn.experiment.config import ExperimentConfig

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_exit_when_the_driver_is_killed(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "methods": ["zero_shot"],
            "seeds": list(range(6)),
            "model": "fake",
            "model_options": {"latency": 0.05},
            "limit": 200,
            "teachers": 3,
            "silo_size": 12,
            "heldout": 2,
        }
    )
    config_path = tmp_path / "grid.yaml"
    config_path.write_text(cfg.to_yaml())
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sociallearn.cli",
            "run",
            str(config_path),
            "--workers",
            "2",
            "--out",
            str(tmp_path / "run"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and driver.poll() is None:
        # The workers are the driver's children that run Python (the resource tracker too).
        workers = _children(driver.pid)
        if len(workers) >= 2:
            time.sleep(2.0)  # let them take a job
            break
        time.sleep(0.1)
    assert driver.poll() is None and len(workers) >= 2, "workers did not start in time"
    workers = _children(driver.pid)
    os.kill(driver.pid, sig)
    driver.wait(timeout=30)
    # SIGTERM stops the driver as Ctrl-C does (workers stopped, exit 143); SIGKILL cannot.
    assert driver.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    assert not survivors, f"worker processes outlived their driver: {survivors}"
