"""A run directory is bound to the data its units were computed on, per task, like its config."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cli_helpers import _cli, _one_error_line
from fake_runs import fake_audit_config, fake_run_config, result_rows
from sociallearn.errors import ConfigError, DataError
from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.audit_plan import print_audit_plan
from sociallearn.experiment.bindings import Bindings, check_inputs, task_digest
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.recover import rebuild_from_exports
from sociallearn.experiment.runner import open_store, run_experiment
from sociallearn.experiment.store import ResultsStore
from sociallearn.experiment.workbench import Workbench
from sociallearn.export import export_run

GRID = {"methods": ["zero_shot", "original_examples"], "aggregators": ["random"]}
HAM = "see you at the station at {i}, bring the tickets"
SPAM = "WINNER {i}! claim your free prize now, call 0906{i:04d}"


def _spam_csv(path: Path, flipped: int = 0) -> Path:
    """80 messages, half spam; ``flipped`` ham messages relabelled spam (an 'edited' file)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        for i in range(40):
            out.writerow([HAM.format(i=i), "spam" if i < flipped else "ham"])
            out.writerow([SPAM.format(i=i), "spam"])
    return path


def test_a_data_file_edited_in_place_is_refused_on_resume(tmp_path: Path) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    first = run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0]))
    assert first.computed == 2
    _spam_csv(data, flipped=3)  # the same path and config: only the content says it changed
    with pytest.raises(DataError) as refused:
        run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0, 1]))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'r'}: its sms_spam units were computed on other data")
    assert f"local file {data}" in message and "use --out for a new directory" in message
    assert len(result_rows(tmp_path / "r")) == 2  # nothing was computed or stored
    _spam_csv(data)  # the data put back: the run extends as before
    grown = run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0, 1]))
    assert (grown.skipped, grown.computed) == (2, 2)


def test_the_first_unit_of_a_task_binds_its_digest(tmp_path: Path) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    config = fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0])
    run_experiment(config)
    store = ResultsStore(tmp_path / "r")
    try:
        bound = store.bound("data:")
    finally:
        store.close()
    assert bound == {"data:sms_spam": task_digest(Workbench(config).data("sms_spam"))}
    # A grid that only reuses finished units checks nothing: it computes nothing either.
    _spam_csv(data, flipped=3)
    assert run_experiment(config).computed == 0


def test_a_directory_from_before_the_digests_binds_at_its_next_unit(tmp_path: Path) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0]))
    store = ResultsStore(tmp_path / "r")
    with store._db:  # as an older version left it: no digest kept
        store._db.execute("DELETE FROM meta WHERE key LIKE 'data:%'")
    store.close()
    _spam_csv(data, flipped=3)  # cannot be told from the old data now; bound from here on
    grown = run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0, 1]))
    assert grown.computed == 2
    _spam_csv(data)
    with pytest.raises(DataError, match="its sms_spam units were computed on other data"):
        run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0, 1, 2]))


@pytest.mark.parametrize("via", ["recover", "carry"])
def test_a_rebuilt_store_is_bound_to_the_data_its_units_were_computed_on(
    tmp_path: Path, via: str
) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    run_experiment(fake_run_config(tmp_path / "r", GRID, data_file=data, seeds=[0]))
    manifest = json.loads((tmp_path / "r" / "run.json").read_text())
    digest = manifest["data"]["sms_spam"]["digest"]
    assert manifest["data"]["sms_spam"]["origin"].startswith(f"local file {data}: 80 unique")
    run_dir = tmp_path / "r"
    if via == "carry":
        export_run(run_dir, "carry", out_dir=tmp_path / "c")
        run_dir = tmp_path / "c"
    else:
        for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
            (run_dir / name).unlink(missing_ok=True)
    assert rebuild_from_exports(run_dir)[0] == 2
    store = ResultsStore(run_dir)
    try:
        assert store.bound("data:") == {"data:sms_spam": digest}
    finally:
        store.close()
    _spam_csv(data, flipped=3)
    with pytest.raises(DataError, match=f"computed on other data \\(digest {digest}\\)"):
        run_experiment(fake_run_config(run_dir, GRID, data_file=data, seeds=[0, 1]))


def test_a_unit_computed_on_other_data_is_not_stored(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r")
    try:
        store.save("a", {"unit": "a"}, [], bind={"data:t": "1111"})
        with pytest.raises(DataError, match=r"b was computed under data:t 2222, but the direct"):
            store.save("b", {"unit": "b"}, [], bind={"data:t": "2222"})
        assert store.done() == {"a"} and store.bound("data:") == {"data:t": "1111"}
    finally:
        store.close()


def test_an_audit_is_bound_to_its_data_too(tmp_path: Path) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    quiet = Console(file=io.StringIO())
    run_audit(fake_audit_config(tmp_path / "a", 1, data_file=data), quiet)
    _spam_csv(data, flipped=3)
    with pytest.raises(DataError, match="its sms_spam units were computed on other data"):
        run_audit(fake_audit_config(tmp_path / "a", 2, data_file=data), quiet)
    said = io.StringIO()
    print_audit_plan(
        fake_audit_config(tmp_path / "a", 2, data_file=data), Console(file=said, width=400)
    )
    assert "its sms_spam units were computed on other data" in said.getvalue()


def test_the_cli_says_so_in_one_error_line(tmp_path: Path) -> None:
    data = _spam_csv(tmp_path / "spam.csv")
    args = ["run", "--model", "fake", "--limit", "2", "--n", "2", "--teachers", "2"]
    args += ["--method", "zero_shot", "--out", str(tmp_path / "r")]
    config = tmp_path / "exp.yaml"
    config.write_text(f"tasks: [sms_spam]\ndata_file: {data}\nsilo_size: 8\nheldout: 0\n")
    assert _cli(*args, "--seeds", "1", str(config)).returncode == 0
    _spam_csv(data, flipped=3)
    line = _one_error_line(_cli(*args, "--seeds", "2", str(config)))
    assert "its sms_spam units were computed on other data" in line
    # The dry run says so too, and still writes nothing.
    before = (tmp_path / "r" / "results.sqlite").read_bytes()
    dry = _cli(*args, "--seeds", "2", "--dry-run", str(config))
    assert dry.returncode == 0, dry.stderr
    said = " ".join(dry.stdout.split())
    assert "note: " in said and "its sms_spam units were computed on other data" in said
    assert "(a run there is refused)" in said
    assert (tmp_path / "r" / "results.sqlite").read_bytes() == before
    _spam_csv(data)
    dry = _cli(*args, "--seeds", "2", "--dry-run", str(config))
    assert "computed on other data" not in dry.stdout


@contextmanager
def _one_unit_stored(
    tmp_path: Path, model: str, options: dict[str, Any] | None = None
) -> Iterator[tuple[ExperimentConfig, Workbench, ResultsStore, Bindings]]:
    """A store with one unit bound to the data and ``model``'s weights as they are now."""
    data = _spam_csv(tmp_path / "spam.csv")
    config = fake_run_config(
        tmp_path / "r", GRID, data_file=data, model=model, model_options=options or {}
    )
    bench = Workbench(config)
    store = ResultsStore(tmp_path / "r")
    try:
        bindings = check_inputs(store, config, bench, ["sms_spam"])
        store.save("sms_spam/zero_shot/n=0/-/seed=0", {}, [], bind=bindings.for_unit("sms_spam"))
        yield config, bench, store, bindings
    finally:
        store.close()


def test_a_model_file_replaced_at_its_path_is_refused_on_resume(tmp_path: Path) -> None:
    # The check reads the file, it does not load it: any bytes stand in for a GGUF here.
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one quantisation")
    with _one_unit_stored(tmp_path, f"llamacpp:{model}") as (config, bench, store, bindings):
        assert set(bindings.for_unit("sms_spam")) == {"data:sms_spam", "model:llamacpp:m.gguf"}
        model.write_bytes(b"GGUF another quantisation")
        with pytest.raises(DataError, match=r"computed with other weights at .*m.gguf \(digest"):
            check_inputs(store, config, bench, ["sms_spam"])
        model.write_bytes(b"GGUF one quantisation")
        assert check_inputs(store, config, bench, ["sms_spam"]) == bindings
        # Nothing to compute: nothing is read or checked.
        model.write_bytes(b"GGUF another quantisation")
        assert check_inputs(store, config, bench, []).models == {}


def test_a_transformers_directory_is_bound_by_its_files(tmp_path: Path) -> None:
    # hf:<directory>: its top-level files are what from_pretrained reads (any bytes stand in).
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"weights, one fine-tune")
    with _one_unit_stored(tmp_path, f"hf:{model}") as (config, bench, store, bindings):
        assert set(bindings.models) == {"hf:tiny"}
        # A file nobody loads (a subfolder's copy, a hidden file) does not move the digest.
        (model / "original").mkdir()
        (model / "original" / "consolidated.pth").write_bytes(b"the same weights, another format")
        (model / ".gitattributes").write_text("*.safetensors filter=lfs")
        assert check_inputs(store, config, bench, ["sms_spam"]) == bindings
        (model / "model.safetensors").write_bytes(b"weights, another fine-tune")
        with pytest.raises(DataError, match=r"computed with other weights at .*tiny \(digest"):
            check_inputs(store, config, bench, ["sms_spam"])


def test_a_server_is_bound_by_what_it_lists(tmp_path: Path) -> None:
    # openai:<name>: the server's weights cannot be read, its model list can.
    pytest.importorskip("openai")
    from fault_server import FaultServer

    entry = {"id": "qwen", "object": "model", "root": "/models/qwen", "max_model_len": 4096}
    with FaultServer(lifetime_s=60) as server:
        server.models = [entry]
        options = {"base_url": server.url}
        with _one_unit_stored(tmp_path, "openai:qwen", options) as (config, bench, store, bound):
            assert set(bound.models) == {f"openai:qwen@{server.url}"}
            server.models = [{**entry, "created": 5}]  # the same model, asked again
            assert check_inputs(store, config, bench, ["sms_spam"]) == bound
            server.models = [{**entry, "root": "/models/another"}]  # restarted with another
            with pytest.raises(DataError, match=r"the server serves another model"):
                check_inputs(store, config, bench, ["sms_spam"])


def test_a_directory_resumes_where_the_same_data_and_model_lie_elsewhere(tmp_path: Path) -> None:
    # Another machine or checkout: the data file and the model file at other paths.
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        folder.mkdir()
        _spam_csv(folder / "spam.csv")
        (folder / "m.gguf").write_bytes(b"GGUF one quantisation")

    def config(folder: Path, out: str = "r") -> ExperimentConfig:
        data, model = folder / "spam.csv", f"llamacpp:{folder / 'm.gguf'}"
        return fake_run_config(tmp_path / out, GRID, data_file=data, model=model)

    def start(config: ExperimentConfig, fingerprint: str | None = None) -> None:
        store = open_store(config)
        try:
            if fingerprint is not None:
                store._fingerprint = fingerprint  # as an older version bound it
            bindings = check_inputs(store, config, Workbench(config), ["sms_spam"])
            unit = f"sms_spam/zero_shot/n=0/-/seed={len(store.done())}"
            store.save(unit, {}, [], bind=bindings.for_unit("sms_spam"))
        finally:
            store.close()

    assert config(here).fingerprint() == config(there).fingerprint()
    start(config(here))
    start(config(there))  # resumed elsewhere: the same bytes
    (there / "m.gguf").write_bytes(b"GGUF another quantisation")
    with pytest.raises(DataError, match=r"computed with other weights at .*there/m.gguf"):
        start(config(there))
    (there / "m.gguf").write_bytes(b"GGUF one quantisation")
    _spam_csv(there / "spam.csv", flipped=3)
    with pytest.raises(DataError, match="its sms_spam units were computed on other data"):
        start(config(there))
    # A directory an older version made holds the fingerprint with the paths: it resumes where
    # they are the same, and is refused elsewhere, naming them.
    start(config(here, "old"), fingerprint=config(here).path_fingerprint())
    start(config(here, "old"))
    with pytest.raises(ConfigError, match=r"differs: model: .* there, .* here; data_file: "):
        start(config(there, "old"))


def test_two_model_files_of_one_name_are_each_bound(tmp_path: Path) -> None:
    # The teachers' and the student's model: one file name in two folders, other bytes.
    for role in ("teacher", "student"):
        (tmp_path / role).mkdir()
        (tmp_path / role / "m.gguf").write_bytes(f"GGUF the {role}'s weights".encode())
    data = _spam_csv(tmp_path / "spam.csv")
    roles = {f"{r}_model": f"llamacpp:{tmp_path / r / 'm.gguf'}" for r in ("teacher", "student")}
    config = fake_run_config(tmp_path / "r", GRID, data_file=data, **roles)
    store = ResultsStore(tmp_path / "r")
    try:
        bindings = check_inputs(store, config, Workbench(config), ["sms_spam"])
        assert set(bindings.models) == {"llamacpp:m.gguf", "llamacpp:m.gguf (student)"}
        store.save("sms_spam/zero_shot/n=0/-/seed=0", {}, [], bind=bindings.for_unit("sms_spam"))
        (tmp_path / "student" / "m.gguf").write_bytes(b"GGUF other weights")
        with pytest.raises(DataError, match=r"other weights at .*student/m.gguf"):
            check_inputs(store, config, Workbench(config), ["sms_spam"])
    finally:
        store.close()
