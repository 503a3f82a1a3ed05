"""logger=wandb, checked by reading back the offline run files wandb writes in the run dir."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gnnexp.cli import main
from tests.conftest import FAST, REPO

wandb = pytest.importorskip("wandb", reason="logger=wandb needs the [wandb] extra (part of [dev])")


def read_offline_run(run_dir: Path) -> dict[str, Any]:
    """The records of ``<run dir>/wandb/offline-run-*/run-*.wandb``: config, history rows by
    step, summary, group, tags and exit code.

    The file is wandb's LevelDB-style log of protobuf ``Record`` messages (wandb ships the
    message classes, no reader since its Go core): a 7-byte file header, then 32 KiB blocks
    of chunks, each with a 7-byte header (checksum, length, type: full, first, middle, last).
    """
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    run: dict[str, Any] = {
        "config": {},
        "history": {},
        "summary": {},
        "tags": [],
        "group": None,
        "exit": None,
    }
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind not in (1, 4) or not pending:  # 1: a whole record, 4: a record's last chunk
            continue
        record = pb.Record()
        record.ParseFromString(pending)
        pending = b""
        which = record.WhichOneof("record_type")
        if which == "run":
            run["config"].update({u.key: json.loads(u.value_json) for u in record.run.config.update})
            run["group"] = record.run.run_group or run["group"]
            run["tags"] = list(record.run.tags)
        elif which == "history":
            row = {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item}
            run["history"].setdefault(row["_step"], {}).update(row)
        elif which == "summary":
            for u in record.summary.update:
                run["summary"]["/".join(u.nested_key) or u.key] = json.loads(u.value_json)
        elif which == "exit":
            run["exit"] = record.exit.exit_code
    return run


def metrics_csv(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One multirun of two jobs, with wandb offline through WANDB_MODE as a user sets it."""
    sweep_dir = tmp_path_factory.mktemp("wandb") / "sweep"
    saved = {k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_SILENT")}
    os.environ["WANDB_MODE"] = "offline"
    wandb.teardown()  # wandb reads its environment once per process
    try:
        code = main(
            [
                "train",
                "-m",
                *FAST,
                "seed=0,1",
                "scheduler=cosine",
                "logger=[csv,wandb]",
                f"hydra.sweep.dir={sweep_dir}",
            ]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        wandb.teardown()
    assert code == 0
    return sweep_dir


def jobs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_dir.glob("*/results.json"))


def test_offline_files_hold_the_logged_metrics_and_config(sweep):
    assert len(jobs(sweep)) == 2
    assert {json.loads((job / "results.json").read_text())["seed"] for job in jobs(sweep)} == {0, 1}
    for job in jobs(sweep):
        run = read_offline_run(job)
        rows = metrics_csv(job)
        assert sorted(run["history"]) == [int(r["epoch"]) for r in rows] == list(range(1, 9))
        for row in rows:
            logged = run["history"][int(row["epoch"])]
            assert logged["train/loss"] == pytest.approx(float(row["train_loss"]), rel=1e-6)
            assert logged["val/loss"] == pytest.approx(float(row["val_loss"]), rel=1e-6)
            assert logged["val/accuracy"] == pytest.approx(float(row["val_accuracy"]), rel=1e-6)
            assert logged["lr"] == pytest.approx(float(row["lr"]), rel=1e-6)
        # The resolved config, as .hydra/config.yaml holds it.
        results = json.loads((job / "results.json").read_text())
        assert run["config"]["seed"] == results["seed"]
        assert run["config"]["scheduler"]["name"] == "cosine"
        assert run["config"]["dataset"]["num_nodes"] == 300
        # Best and final results in the summary; the run ended as finished.
        assert run["summary"]["best_epoch"] == results["best_epoch"]
        assert run["summary"]["final/test/accuracy"] == pytest.approx(results["test"]["accuracy"])
        assert run["summary"]["final/val/accuracy"] == pytest.approx(results["val"]["accuracy"])
        assert run["summary"]["status"] == "completed" and run["exit"] == 0
        # The curves image goes with the last epoch, and its file sits in the offline run.
        assert run["history"][8]["curves/_type"] == "image-file"
        (image,) = (job / "wandb").glob("offline-run-*/files/media/images/curves_*.png")
        assert image.read_bytes()[:4] == b"\x89PNG"
        # Where the offline run lives, for wandb sync.
        sync_dir, run_id = (job / "wandb_run.txt").read_text().split()
        assert Path(sync_dir).parent == job / "wandb" and sync_dir.endswith(run_id)


def test_a_sweeps_jobs_share_one_group_named_for_the_sweep_dir(sweep):
    groups = {read_offline_run(job)["group"] for job in jobs(sweep)}
    assert groups == {str(sweep)[-128:]}


def _direct_run(
    tmp_path: Path, meta: dict[str, Any], config: dict[str, Any], results: dict[str, Any] | None
) -> dict[str, Any]:
    """A tracker driven as a run drives it, without training (offline, in ``tmp_path``);
    ``results`` None: the run fails after its epochs."""
    from gnnexp.loggers.kinds import WandB
    from gnnexp.records import EpochRecord

    tracker = WandB(mode="offline", tags=["mine"]).build(tmp_path, meta)
    assert tracker is not None
    tracker.log_hparams(config)
    for epoch in (1, 2, 3):
        tracker.log_epoch(EpochRecord(epoch, 1.0 / epoch, {"loss": 2.0, "f1": 0.5}, 0.1, 0.01, True), "f1")
    if results is None:
        tracker.close(failed=True)
    else:
        tracker.log_results(results)
        tracker.close()
    wandb.teardown()  # finish() may return before wandb's service has written the file out
    return read_offline_run(tmp_path)


def test_a_pruned_trial_is_tagged_and_grouped_by_its_study(tmp_path):
    trial_dir = tmp_path / "search" / "trial_3"
    trial_dir.mkdir(parents=True)
    run = _direct_run(
        trial_dir,
        {"job_num": None},
        {"trial": {"study": "cora_search", "number": 3}},
        {"val": {"f1": 0.5}, "test": {}, "best_epoch": 2, "pruned_epoch": 3},
    )
    assert run["group"] == "cora_search@" + str(tmp_path / "search")[-(128 - len("cora_search@")) :]
    assert sorted(run["tags"]) == ["mine", "pruned"]
    assert run["summary"]["status"] == "pruned" and run["summary"]["pruned_epoch"] == 3
    assert [run["history"][e]["val/f1"] for e in (1, 2, 3)] == [0.5, 0.5, 0.5]


def test_a_runs_folds_share_a_group_named_for_the_run_and_a_failed_run_ends_failed(tmp_path):
    fold_dir = tmp_path / "run" / "fold_2"
    fold_dir.mkdir(parents=True)
    meta = {"job_num": None, "fold": 2}
    run = _direct_run(fold_dir, meta, {"trial": {"study": None}}, {"val": {}, "test": {}, "best_epoch": 3})
    assert run["group"] == str(tmp_path / "run")[-128:] and run["tags"] == ["mine"]
    assert run["summary"]["status"] == "completed" and "pruned_epoch" not in run["summary"]
    assert run["exit"] == 0
    # A single run's W&B run has no group; one that fails (or is interrupted) exits 1.
    single = tmp_path / "single"
    single.mkdir()
    failed = _direct_run(single, {"job_num": None, "fold": None}, {"trial": {"study": None}}, None)
    assert failed["group"] is None and sorted(failed["history"]) == [1, 2, 3]
    assert failed["summary"]["status"] == "failed" and failed["exit"] == 1


def test_a_missing_wandb_package_is_one_line_before_training(gnnexp, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now fails, as when not installed
    result = gnnexp(*FAST, "logger=[csv,wandb]")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1
    assert "logger=wandb needs the wandb package" in result.err
    assert "pip install 'gnnexp[wandb]'" in result.err
    assert not (result.run_dir / "metrics.csv").exists()


def test_online_without_a_login_names_wandb_login_and_never_prompts(tmp_path):
    """At a terminal (a pseudo-terminal here), where wandb would otherwise ask for a key."""
    import pty

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_") and k != "NETRC"}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    run_dir = tmp_path / "run"
    leader, follower = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "gnnexp",
        "train",
        *FAST,
        "logger=[csv,wandb]",
        "logger.wandb.mode=online",
    ]
    with subprocess.Popen(
        [*command, f"hydra.run.dir={run_dir}"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    ) as process:
        os.close(follower)
        try:
            code = process.wait(timeout=120)  # a prompt would wait for an answer until killed
        finally:
            process.kill()
        output = b""
        try:
            while chunk := os.read(leader, 65536):
                output += chunk
        except OSError:  # the terminal closed with the process
            pass
        os.close(leader)
    text = output.decode(errors="replace")
    assert code != 0, text
    assert "finds no W&B login" in text and "wandb login" in text and "WANDB_MODE=offline" in text
    assert "API key" not in text and "Enter your choice" not in text
    assert "Traceback" not in text
    assert not (run_dir / "metrics.csv").exists()
