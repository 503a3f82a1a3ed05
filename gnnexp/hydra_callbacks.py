"""Hydra callbacks that gnnexp's primary config installs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gnnexp.errors import GnnexpError, report

if TYPE_CHECKING:
    from gnnexp.ownership import RunDirLock


class ValidateConfig(Callback):
    """Refuse an impossible single-run config, or a run directory that belongs to another
    run, before Hydra writes anything into it; then hold the directory's lock for the run."""

    def __init__(self) -> None:
        self.lock: RunDirLock | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from pathlib import Path

        from gnnexp.config.validate import validate
        from gnnexp.device import resolve_device
        from gnnexp.ownership import RunDirLock, check_reusable

        try:
            validate(config)
            resolve_device(config.device.type)
            run_dir = Path(str(config.hydra.run.dir))
            check_reusable(run_dir, config.trainer.get("resume"), bool(config.get("overwrite")))
            self.lock = RunDirLock(run_dir)
            self.lock.acquire()
        except GnnexpError as err:
            # Hydra downgrades exceptions from callbacks to warnings; SystemExit is the
            # one way to stop here, before anything is written.
            report(err)
            raise SystemExit(err.exit_code) from None

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class SweepSummary(Callback):
    """At the end of a multirun: write summary.md/.json into the sweep dir, print the table,
    and, when jobs did not complete, say so and end ``gnnexp train -m`` with status 1."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pathlib import Path

        from gnnexp.atomic import write_text
        from gnnexp.summary import find_jobs, summarize, to_json, to_markdown, to_table, wide_console

        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = find_jobs([sweep_dir])
        rows = summarize(jobs)
        write_text(sweep_dir / "summary.md", to_markdown(rows))
        write_text(sweep_dir / "summary.json", to_json(rows))
        failed = sum(job.status != "completed" for job in jobs)
        wide_console().print(to_table(rows, f"sweep {sweep_dir}: {len(jobs)} jobs, {failed} not completed"))
        if failed:
            report(
                f"{failed} of {len(jobs)} jobs did not complete; "
                f"their errors are in failed.json and {sweep_dir}/summary.md."
            )
            # Hydra turns a callback's exceptions into warnings; an exit status is the one
            # way to tell the shell (and CI) that the sweep is incomplete.
            raise SystemExit(1)
