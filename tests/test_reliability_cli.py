"""The command line under faults: one ``error:`` line, text printed as it is, Ctrl-C, flags."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import _cli, _one_error_line
from fault_server import FaultServer

ROOT = Path(__file__).parents[1]
FAKE = ["--model", "fake", "--limit", "2", "--n", "2", "--teachers", "2"]


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """Give the children these tests interrupt SIGINT's default action.

    A suite started in the background by a script (``bash .ci/run &``) ignores SIGINT, a child
    inherits that, and Python leaves an ignored SIGINT ignored: the child would never stop. A
    handler of the test process's own is reset to the default in a child at exec.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _small_config(tmp_path: Path, body: str = "") -> Path:
    config = tmp_path / "exp.yaml"
    config.write_text(
        "tasks: [sms_spam]\nmethods: [zero_shot, original_examples]\nn: [2]\n"
        "aggregators: [random]\nmodel: fake\nteachers: 2\nsilo_size: 8\nheldout: 0\n"
        "limit: 2\n" + body
    )
    return config


# ------------------------------------------------------------------- item 3: markup


def test_error_text_is_printed_as_it_is(tmp_path: Path) -> None:
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "--task", "[/INST]x"))
    assert "'[/INST]x'" in line
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "--task", "[bold]y"))
    assert "'[bold]y'" in line


def test_brackets_in_labels_and_paths_survive_a_whole_run(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    rows = ["review,label"]
    for i in range(24):
        label = "[/INST] negative" if i % 2 else "[b]positive[/b] :smile:"
        rows.append(f"review number {i} was {'bad' if i % 2 else 'good'},{label}")
    data.write_text("\n".join(rows) + "\n")
    task = tmp_path / "brackets.yaml"
    task.write_text(
        "name: '[x] brackets'\ndata: reviews.csv\ninput_template: 'Review: {review}\\nLabel:'\n"
        "target_field: label\nparser: {kind: choice}\n"
        "labels: ['[/INST] negative', '[b]positive[/b] :smile:']\ntest_size: 6\n"
    )
    out = tmp_path / "runs [a]" / "[/x]"
    result = _cli("run", "--task", str(task), "--out", str(out), *FAKE, "--method", "zero_shot")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert str(out) in result.stdout  # the run directory line, unaltered
    assert "[x] brackets" in result.stdout  # the results table
    assert (out / "report.md").exists()


# ------------------------------------------------------------------ item 7: OS errors


def test_a_crash_in_native_code_says_which_signal_and_where() -> None:
    # What llama.cpp's SIGILL on a CPU advertising AMX it cannot run looked like: silence and
    # exit code 132. The CLI's entry point makes the crash print its signal and Python stack.
    code = (
        "import faulthandler\n"
        "from sociallearn import cli\n"
        "cli.app = lambda: faulthandler._sigsegv()\n"
        "cli.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert 'File "<string>", line 3 in <lambda>' in done.stderr, done.stderr


def test_os_errors_are_one_line_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    line = _one_error_line(_cli("run", "--out", str(target / "sub"), *FAKE))
    assert str(target / "sub") in line
    line = _one_error_line(_cli("run", "--out", str(target), *FAKE))
    assert "is a file" in line


# ------------------------------------------------------------------- item 8: clobbering


def test_out_on_a_foreign_folder_needs_force(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("keep me")
    line = _one_error_line(_cli("run", "--out", str(folder), *FAKE, "--method", "zero_shot"))
    assert "--force" in line
    assert (folder / "config.yaml").read_text() == "keep me"
    forced = _cli("run", "--out", str(folder), *FAKE, "--method", "zero_shot", "--force")
    assert forced.returncode == 0, forced.stderr


# ------------------------------------------------------------------ also: flags, Ctrl-C


def test_a_data_dir_without_the_tasks_data_is_said(tmp_path: Path) -> None:
    empty = tmp_path / "datasets"
    empty.mkdir()
    result = _cli(
        "run",
        "--out",
        str(tmp_path / "r"),
        *FAKE,
        "--method",
        "zero_shot",
        "--data-dir",
        str(empty),
    )
    assert result.returncode == 0, result.stderr
    assert f"note: {empty} has no sms_spam data" in result.stdout
    assert "using registry package" in result.stdout


def test_flag_errors_name_the_flag(tmp_path: Path) -> None:
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "--teachers", "0"))
    assert line.startswith("error: --teachers:")
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "--seeds", "0"))
    assert line.startswith("error: --seeds 0:") and "use --seed 0" in line
    line = _one_error_line(
        _cli("run", "--out", str(tmp_path / "r"), "-O", "timeout=abc", "--model", "openai:m")
    )
    assert "option timeout: expected a number" in line
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "-O", "n_ctx=abc"))
    assert "n_ctx='abc'" in line and "wrong type" in line


def test_recover_rebuilds_an_emptied_store(tmp_path: Path) -> None:
    config = _small_config(tmp_path)
    out = tmp_path / "r"
    assert _cli("run", str(config), "--out", str(out)).returncode == 0
    before = (out / "results.jsonl").read_text()
    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (out / name).unlink(missing_ok=True)
    (out / "results.sqlite").write_bytes(b"")
    line = _one_error_line(_cli("run", str(config), "--out", str(out)))
    assert "sociallearn recover" in line
    recovered = _cli("recover", str(out))
    assert recovered.returncode == 0 and "rebuilt" in recovered.stdout, recovered.stderr
    rerun = _cli("run", str(config), "--out", str(out))
    assert rerun.returncode == 0 and "0 units computed" in rerun.stdout
    assert (out / "results.jsonl").read_text() == before


def test_a_run_carried_to_another_machine_resumes(tmp_path: Path) -> None:
    # What docs/failure-modes.md tells a user moving a half-done run: take its carry (no store,
    # cache, transcript or labels) to an empty folder, recover, run the same command again.
    config = _small_config(tmp_path)
    first = tmp_path / "here"
    grid = ["run", str(config), "--out"]
    assert _cli(*grid, str(first / "grid"), "--method", "zero_shot").returncode == 0
    audit = ["audit", "--task", "sms_spam", "--template", "sms_spam-code", "--model", "fake"]
    audit += ["--method", "synthetic_examples", "--references", "20", "--runs"]
    assert _cli(*audit, "1", "--out", str(first / "audit")).returncode == 0
    moved = tmp_path / "there"
    for folder in ("grid", "audit"):
        carry = _cli(
            "export", str(first / folder), "--format", "carry", "--out", str(moved / folder)
        )
        assert carry.returncode == 0, carry.stderr
        recovered = _cli("recover", str(moved / folder))
        assert recovered.returncode == 0 and "with 1 units" in recovered.stdout, recovered.stderr
    rerun = _cli(*grid, str(moved / "grid"))
    assert rerun.returncode == 0 and "1 units computed, 1 reused" in rerun.stdout, rerun.stderr
    row = json.loads((moved / "grid" / "results.jsonl").read_text().splitlines()[0])
    original = json.loads((first / "grid" / "results.jsonl").read_text().splitlines()[0])
    # The same unit, its labels restored; only the completions (model text) stayed behind.
    for prediction in original["predictions"]:
        del prediction["completion"]
    assert row == original
    more = _cli(*audit, "2", "--out", str(moved / "audit"))
    assert more.returncode == 0, more.stderr
    assert "1 audit runs in" in more.stdout  # run 2; run 1 reused
    carried = (first / "audit" / "privacy.jsonl").read_text().splitlines()
    assert (moved / "audit" / "privacy.jsonl").read_text().splitlines()[:1] == carried


def _spam_folder(root: Path, flipped: int = 0) -> Path:
    """A data folder in ``--data-dir``'s layout: 60 SMS messages, half spam (``flipped`` ham
    messages relabelled: an edited copy)."""
    (root / "sms_spam").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(30):
        rows.append({"text": f"see you at {i}, bring the tickets", "label": "ham"})
        rows.append({"text": f"WINNER {i}! claim your prize, call 0906{i:04d}", "label": "spam"})
    for row in rows[: 2 * flipped : 2]:
        row["label"] = "spam"
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (root / "sms_spam" / "sms_spam.jsonl").write_text(text)
    return root


def test_a_carry_resumes_where_the_same_data_lie_elsewhere(tmp_path: Path) -> None:
    # The other machine keeps its data at another path: the fingerprint leaves the path out,
    # the data's digest (in the carry's run.json) is checked instead.
    config = _small_config(tmp_path)
    here, there = tmp_path / "here", tmp_path / "there"
    _spam_folder(here / "data")
    _spam_folder(there / "data")

    def run(at: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return _cli("run", str(config), "--data-dir", str(at / "data"), *extra)

    assert run(here, "--method", "zero_shot", "--out", str(here / "grid")).returncode == 0
    carry = _cli("export", str(here / "grid"), "--format", "carry", "--out", str(there / "grid"))
    assert carry.returncode == 0, carry.stderr
    assert _cli("recover", str(there / "grid"), "--data-dir", str(there / "data")).returncode == 0
    rerun = run(there, "--out", str(there / "grid"))
    assert rerun.returncode == 0 and "1 units computed, 1 reused" in rerun.stdout, rerun.stderr
    # Other data at that path: refused, nothing computed.
    _spam_folder(there / "data", flipped=2)
    refused = _one_error_line(run(there, "--seeds", "2", "--out", str(there / "grid")))
    assert "its sms_spam units were computed on other data" in refused


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks and signals")
@pytest.mark.usefixtures("sigint_reaches_children")
def test_a_second_process_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with FaultServer(lifetime_s=120) as server:
        server.set_mode("slow", delay=30.0)  # keeps the first run busy
        config = _small_config(
            tmp_path,
            f"model: openai:m\nmodel_options: {{base_url: '{server.url}', concurrency: 1}}\n",
        )
        config.write_text(config.read_text().replace("model: fake\n", ""))
        out = str(tmp_path / "r")
        first = subprocess.Popen(
            [sys.executable, "-m", "sociallearn.cli", "run", str(config), "--out", out],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while server.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            line = _one_error_line(_cli("run", str(config), "--out", out))
            assert "another sociallearn process is writing this run directory" in line
        finally:
            first.send_signal(signal.SIGINT)
            first.wait(timeout=60)


def test_audit_shards_started_together_share_the_directory(tmp_path: Path) -> None:
    out = str(tmp_path / "a")
    args = ["audit", "--model", "fake", "--task", "sms_spam", "--out", out, "--runs", "3"]
    args += ["--references", "20"]
    shards = [
        subprocess.Popen(
            [sys.executable, "-m", "sociallearn.cli", *args, "--shard", f"{k}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2)
    ]
    results = [shard.communicate(timeout=300) for shard in shards]
    for shard, (_, stderr) in zip(shards, results, strict=True):
        assert shard.returncode == 0, stderr
        assert "Traceback" not in stderr
    # The last shard to finish exports every unit (each export reads the whole store).
    again = _cli(*args)
    assert again.returncode == 0, again.stderr
    rows = (tmp_path / "a" / "privacy.jsonl").read_text().splitlines()
    assert len(rows) == 3 * 2 * 2  # runs x templates x methods
    assert "12 of 12 audit runs done" in again.stdout  # nothing was lost or left to do


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.usefixtures("sigint_reaches_children")
def test_ctrl_c_or_kill_prints_the_resume_line(tmp_path: Path, sig: int, code: int) -> None:
    with FaultServer(lifetime_s=120) as server:
        server.set_mode("slow", delay=30.0)
        config = _small_config(
            tmp_path,
            f"model: openai:m\nmodel_options: {{base_url: '{server.url}', concurrency: 1}}\n",
        )
        config.write_text(config.read_text().replace("model: fake\n", ""))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sociallearn.cli",
                "run",
                str(config),
                "--out",
                str(tmp_path / "r"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while server.requests == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert server.requests > 0, proc.communicate()
        os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "interrupted; finished units are saved" in stderr
    assert "Traceback" not in stderr
