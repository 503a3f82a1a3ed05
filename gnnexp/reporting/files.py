"""Run-directory files written so that a reader never sees half of one."""

from __future__ import annotations

import csv
import json
import traceback
from pathlib import Path
from typing import Any

from gnnexp.records import EpochRecord
from gnnexp.training.callbacks import Callback, FitOutcome
from gnnexp.training.state import TrainState
from gnnexp.util.atomic import write_json

RESULTS_FILE = "results.json"
FAILURE_FILE = "failed.json"


def write_failure(out_dir: Path, error: BaseException, meta: dict[str, Any] | None = None) -> None:
    """Record why a job failed (never named like a result); best effort. A directory that
    holds a completed run keeps its record: the failure belongs to this invocation only."""
    if _completed(out_dir):
        return
    record = {
        "status": "failed",
        "error": str(error),
        "error_type": type(error).__name__,
        **(meta or {}),
    }
    if not hasattr(error, "fix"):  # a bug, not a user error: keep the trace for the report
        record["traceback"] = "".join(traceback.format_exception(error))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / FAILURE_FILE, record)
    except OSError:
        pass


def _completed(out_dir: Path) -> bool:
    try:
        return json.loads((out_dir / RESULTS_FILE).read_text()).get("status") == "completed"
    except (OSError, ValueError, AttributeError):
        return False


class MetricsCSV(Callback):
    """``metrics.csv``: one row per epoch, flushed as it is written."""

    def __init__(self, path: Path, metric: str, append: bool = False) -> None:
        self.columns = ["epoch", "train_loss", "val_loss", f"val_{metric}", "lr", "time_s", "best"]
        self.metric = metric
        exists = append and path.is_file() and path.stat().st_size > 0
        # Open for the whole run: rows are appended and flushed as epochs finish.
        self.file = open(path, "a" if exists else "w", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        if not exists:
            self.writer.writerow(self.columns)
            self.file.flush()

    def write(self, record: EpochRecord) -> None:
        val = record.val or {}
        self.writer.writerow(
            [
                record.epoch,
                repr(record.train_loss),
                repr(val["loss"]) if "loss" in val else "",
                repr(val[self.metric]) if self.metric in val else "",
                repr(record.lr),
                f"{record.time_s:.6f}",
                int(record.is_best),
            ]
        )
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        self.write(record)

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self.close()

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self.close()
