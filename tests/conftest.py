"""Shared fixtures: a private copy of the datasets and an in-process ``gnnexp`` runner."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gnnexp.cli import main

REPO = Path(__file__).resolve().parents[1]


def _offline_copy() -> Path | None:
    """Raw dataset files shipped beside the repo (CI) or named by GNNEXP_TEST_DATA."""
    for candidate in (os.environ.get("GNNEXP_TEST_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "Planetoid" / "Cora" / "raw").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable data dir for the whole session, exported as GNNEXP_DATA_DIR.

    The shared copy is read-only and PyG writes ``processed/`` next to ``raw/``, so the
    files are copied. Without an offline copy PyG downloads into the same temp dir.
    """
    target = tmp_path_factory.mktemp("data")
    source = _offline_copy()
    if source is not None:
        shutil.copytree(source, target, dirs_exist_ok=True)
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    os.environ["GNNEXP_DATA_DIR"] = str(target)
    return target


@dataclass
class Result:
    code: int
    out: str
    err: str
    run_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "results.json").read_text())

    def metrics(self) -> list[dict[str, str]]:
        with open(self.run_dir / "metrics.csv") as f:
            return list(csv.DictReader(f))

    def column(self, name: str) -> list[float]:
        return [float(row[name]) for row in self.metrics() if row[name] != ""]


@pytest.fixture
def gnnexp(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``gnnexp train ARGS`` in-process with its output dir under tmp_path."""
    counter = iter(range(1000))

    def run(*args: str, command: str = "train", run_dir: Path | None = None) -> Result:
        run_dir = run_dir or tmp_path / f"run{next(counter)}"
        argv = [command, *args]
        resuming = any(a.startswith("trainer.resume=") for a in args)  # goes back to the run's dir
        if command == "train" and not resuming:
            multirun = "-m" in args or "--multirun" in args
            argv.append(f"hydra.{'sweep' if multirun else 'run'}.dir={run_dir}")
        code = main(argv)
        out, err = capsys.readouterr()
        return Result(code, out, err, run_dir)

    return run


# Small, fast settings for end-to-end tests that are not about accuracy.
FAST = ("dataset=synthetic", "dataset.num_nodes=300", "trainer.max_epochs=8")


@pytest.fixture(autouse=True)
def _joblib_workers_end_with_their_test():
    """joblib keeps its worker processes for the next sweep of this process; they keep the
    working directory they started in, so a later test that changed directory would see a
    relative sweep dir land elsewhere. Each test that started workers ends them."""
    yield
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)
