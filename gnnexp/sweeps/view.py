"""One view of a sweep whose jobs run in parallel: a line per running job, not their tables.

Jobs that run side by side (joblib, submitit_local, parallel Optuna trials) would interleave
their epoch tables line by line. Each such job writes its table into ``<job>/console.log``
instead, and the launching process shows this view: on a terminal a live table (job,
overrides, epoch, best value so far), elsewhere one tagged line when a job starts and one
when it ends. Everything shown is read from the files the jobs write anyway (``.hydra/``,
``metrics.csv``, ``results.json``/``failed.json``), so the view needs nothing from the jobs'
processes and works for every launcher. Torch-free: it runs in the launching process.
"""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from gnnexp.paths import METRICS_FILE, fold_dirs, fold_number
from gnnexp.sweeps.summary import read_job
from gnnexp.training.threads import launcher_parallelism, usable_cores

CONSOLE_LOG = "console.log"
POLL_S = 0.5


@dataclass
class JobLine:
    """Where one job stands, as read from its directory."""

    num: str
    overrides: str
    status: str  # running, completed, pruned, failed, interrupted
    epoch: int = 0
    max_epochs: int | None = None
    fold: str = ""
    best: str = ""  # "val_accuracy 0.8120 @ 57"
    log: Path | None = None

    def progress(self) -> str:
        of = f"/{self.max_epochs}" if self.max_epochs else ""
        return f"{self.fold}epoch {self.epoch}{of}" if self.epoch else f"{self.fold}starting"

    def plain(self) -> str:
        """The tagged line a non-terminal shows."""
        tag = f"[job {self.num}] {self.overrides}"
        if self.status == "running":
            return f"{tag}: started (table in {self.log})"
        done = f", best {self.best}" if self.best else ""
        return f"{tag}: {self.status} after {self.progress()}{done} (table in {self.log})"


def _max_epochs(job: Path) -> int | None:
    try:
        config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        return int(config["trainer"]["max_epochs"])
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        return None


def _last_and_best(metrics: Path) -> tuple[int, str]:
    """The last epoch in ``metrics`` and its best row so far, as text."""
    try:
        with metrics.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):  # being written, or damaged: nothing yet
        return 0, ""
    last, best = 0, ""
    for row in rows:
        try:
            last = int(row.get("epoch") or 0)
        except ValueError:
            continue
        if row.get("best") == "1":
            metric = next((k for k in row if k and k.startswith("val_") and k != "val_loss"), "val_loss")
            for column in (metric, "val_loss"):
                try:
                    best = f"{column} {float(row[column]):.4f} @ {last}"
                    break
                except (KeyError, TypeError, ValueError):
                    continue
    return last, best


def read_line(job: Path, max_epochs: int | None = None) -> JobLine:
    """The view's line for the job in ``job``."""
    outcome = read_job(job)
    status = "running" if outcome.status == "unfinished" else outcome.status
    num = job.name.split("_", 1)[0]
    line = JobLine(
        num if num.isdigit() else job.name,
        " ".join(o for o in outcome.overrides if not o.startswith(("hydra.", "trial."))) or "(defaults)",
        status,
        max_epochs=max_epochs,
        log=job / CONSOLE_LOG,
    )
    folds = [f for f in fold_dirs(job) if (f / METRICS_FILE).is_file()]
    metrics = folds[-1] / METRICS_FILE if folds else job / METRICS_FILE
    if folds:
        line.fold = f"fold {fold_number(folds[-1])}, "
    line.epoch, line.best = _last_and_best(metrics)
    return line


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job directories so far (each has Hydra's ``.hydra`` folder)."""
    try:
        found = [p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()]
    except OSError:
        return []
    return sorted(found, key=lambda p: (len(p.name.split("_", 1)[0]), p.name))


def render(lines: list[JobLine], finished: int, failed: int) -> Table:
    """The live table: one row per running job."""
    title = f"{sum(line.status == 'running' for line in lines)} running, {finished} finished"
    table = Table(title=title + (f", {failed} not completed" if failed else ""), title_justify="left")
    for column in ("job", "overrides", "progress", "best so far"):
        table.add_column(column, overflow="fold")
    for line in lines:
        if line.status == "running":
            table.add_row(line.num, Text(line.overrides), line.progress(), line.best)  # not markup
    return table


class SweepView:
    """Polls ``sweep_dir`` in a thread and shows where each job stands on ``console``."""

    def __init__(self, sweep_dir: Path, console: Console | None = None) -> None:
        self.sweep_dir = sweep_dir
        self.console = console or Console()
        self.live: Live | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gnnexp-sweep-view", daemon=True)
        self.announced: set[Path] = set()
        self.ended: set[Path] = set()
        self.failed = 0
        self.max_epochs: dict[Path, int | None] = {}
        self.final: dict[Path, JobLine] = {}  # jobs that ended are not read again

    def start(self) -> None:
        if self.console.is_terminal:
            # Redrawn by this view's thread after each poll: no refresh thread of rich's own.
            self.live = Live(render([], 0, 0), console=self.console, auto_refresh=False, transient=True)
            self.live.start()
        self.thread.start()

    def stop(self) -> None:
        """One last look (every job has ended), then leave the terminal as it was."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        try:
            self.poll()
        finally:
            if self.live is not None:
                self.live.stop()
                self.live = None

    def _run(self) -> None:
        while not self.stopped.wait(POLL_S):
            try:
                self.poll()
            except Exception:  # a view must never end the sweep; try again
                continue

    def poll(self) -> None:
        lines = []
        for job in job_dirs(self.sweep_dir):
            if job in self.final:
                lines.append(self.final[job])
                continue
            if self.max_epochs.get(job) is None:  # read again until Hydra has written the job's config
                self.max_epochs[job] = _max_epochs(job)
            line = read_line(job, self.max_epochs[job])
            lines.append(line)
            self._announce(job, line)
            if line.status != "running":
                self.final[job] = line
        if self.live is not None:
            self.live.update(render(lines, len(self.ended), self.failed), refresh=True)

    def _print(self, text: str) -> None:
        (self.live.console if self.live else self.console).print(
            text, soft_wrap=True, highlight=False, markup=False
        )

    def _announce(self, job: Path, line: JobLine) -> None:
        """Lines that stay: each job's start (plain output only) and each job's end."""
        if job not in self.announced and self.live is None:
            self.announced.add(job)
            if line.status == "running":
                self._print(line.plain())
        if line.status != "running" and job not in self.ended:
            self.ended.add(job)
            self.failed += line.status not in ("completed", "pruned")  # pruned: ended on purpose
            self._print(line.plain())


def jobs_at_once(hydra_cfg: Any) -> int:
    """How many jobs the sweep's launcher (and sweeper batch) runs in parallel on this machine."""
    from omegaconf import OmegaConf

    def plain(node: Any) -> dict[str, Any]:
        try:
            value = OmegaConf.to_container(node, resolve=True) if node is not None else {}
        except Exception:  # an unresolvable launcher setting: count one job
            return {}
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}

    return launcher_parallelism(
        plain(hydra_cfg.get("launcher")), plain(hydra_cfg.get("sweeper")), usable_cores()[0]
    )
