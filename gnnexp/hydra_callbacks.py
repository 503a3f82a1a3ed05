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
    and, when jobs did not complete, say so and end ``gnnexp train -m`` with status 1."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pathlib import Path

        from gnnexp.summary import find_jobs, summarize, to_json, to_markdown, to_table, wide_console

        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = find_jobs([sweep_dir])
        rows = summarize(jobs)
        (sweep_dir / "summary.md").write_text(to_markdown(rows))
        (sweep_dir / "summary.json").write_text(to_json(rows))
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
