"""Hydra callbacks that gnnexp's primary config installs."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gnnexp.errors import GnnexpError, report


class ValidateConfig(Callback):
    """Refuse an impossible single-run config before Hydra creates its output directory."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from gnnexp.config.validate import validate
        from gnnexp.device import resolve_device

        try:
            validate(config)
            resolve_device(config.device.type)
        except GnnexpError as err:
            # Hydra downgrades exceptions from callbacks to warnings; SystemExit is the
            # one way to stop here, before anything is written.
            report(err)
            raise SystemExit(err.exit_code) from None


class SweepSummary(Callback):
    """At the end of a multirun: write summary.md/.json into the sweep dir, print the table,
    and note how many jobs failed (the CLI's exit status reports them)."""

    failed: int = 0
    total: int = 0
    sweep_dir: str = ""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pathlib import Path

        from gnnexp.summary import find_jobs, summarize, to_json, to_markdown, to_table, wide_console

        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = find_jobs([sweep_dir])
        rows = summarize(jobs)
        (sweep_dir / "summary.md").write_text(to_markdown(rows))
        (sweep_dir / "summary.json").write_text(to_json(rows))
        failed = sum(job.status != "completed" for job in jobs)
        SweepSummary.failed, SweepSummary.total, SweepSummary.sweep_dir = failed, len(jobs), str(sweep_dir)
        wide_console().print(to_table(rows, f"sweep {sweep_dir}: {len(jobs)} jobs, {failed} not completed"))
