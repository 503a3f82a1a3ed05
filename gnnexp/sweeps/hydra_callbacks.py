"""Hydra callbacks that gnnexp's primary config installs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gnnexp.errors import GnnexpError, report

if TYPE_CHECKING:
    from gnnexp.util.ownership import RunDirLock


class ValidateConfig(Callback):
    """Refuse an impossible single-run config, or a run directory that belongs to another
    run, before Hydra writes anything into it; then hold the directory's lock for the run."""

    def __init__(self) -> None:
        self.lock: RunDirLock | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:

        from gnnexp.config.validate import validate
        from gnnexp.util.device import resolve_device
        from gnnexp.util.ownership import RunDirLock, check_reusable

        try:
            validate(config)
            resolve_device(config.device.type)
            run_dir = Path(str(config.hydra.run.dir))
            resume = config.trainer.get("resume")
            check_reusable(run_dir, resume, bool(config.get("overwrite")))
            if resume:  # before Hydra writes into the run's directory
                _check_resumable(config, Path(str(resume)))
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


class SweepView(Callback):
    """While the jobs of a sweep run in parallel, one line per running job (gnnexp.sweeps.view).

    Listed after ``summary``: Hydra ends callbacks in reverse order, so the view is gone
    before the summary table prints.
    """

    def __init__(self) -> None:
        self.view: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Parallel launchers pickle Hydra's callbacks for each job; the view (a thread and
        # the terminal) stays in the launching process.
        return {"view": None}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from gnnexp.sweeps.view import SweepView as View
        from gnnexp.sweeps.view import jobs_at_once

        if jobs_at_once(config.hydra) > 1:
            self.view = View(Path(str(config.hydra.sweep.dir)))
            self.view.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.view is not None:
            self.view.stop()
            self.view = None


class SweepSummary(Callback):
    """At the end of a multirun: write summary.md/.json into the sweep dir, print the table,
    and, when jobs did not complete, say so and end ``gnnexp train -m`` with status 1."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from gnnexp.search.outcome import refuse_plain_sweep

        try:
            refuse_plain_sweep(config.hydra)
        except GnnexpError as err:  # before any job writes (see ValidateConfig)
            report(err)
            raise SystemExit(err.exit_code) from None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:

        from gnnexp.search.outcome import print_study, read_study, real_failures, study_markdown
        from gnnexp.sweeps.summary import find_jobs, summarize
        from gnnexp.sweeps.tables import title, to_json, to_markdown, to_table, wide_console
        from gnnexp.util.atomic import write_text

        sweep_dir = Path(str(config.hydra.sweep.dir))
        study = read_study(sweep_dir)
        if study is not None:  # a search: its trials, best first (the sweeper wrote study.json)
            write_text(sweep_dir / "summary.md", study_markdown(study))
            print_study(study, wide_console(), sweep_dir)
            if real_failures(study):
                report(
                    f"{real_failures(study)} trials failed; their errors are in failed.json of their runs."
                )
                raise SystemExit(1)
            return
        jobs = find_jobs([sweep_dir])
        rows = summarize(jobs)
        write_text(sweep_dir / "summary.md", to_markdown(rows))
        write_text(sweep_dir / "summary.json", to_json(rows))
        failed = sum(job.status not in ("completed", "pruned") for job in jobs)
        wide_console().print(to_table(rows, f"sweep {sweep_dir}: {title(jobs, rows)}"))
        if failed:
            report(
                f"{failed} of {len(jobs)} jobs did not complete; "
                f"their errors are in failed.json and {sweep_dir}/summary.md."
            )
            # Hydra turns a callback's exceptions into warnings; an exit status is the one
            # way to tell the shell (and CI) that the sweep is incomplete.
            raise SystemExit(1)


def _check_resumable(config: DictConfig, checkpoint: Path) -> None:
    """The checkpoint to resume is readable and was trained on the same data and split."""
    from omegaconf import OmegaConf

    from gnnexp.running.resume import check_same_data
    from gnnexp.training.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    current = {str(k): OmegaConf.to_container(config[k], resolve=True) if OmegaConf.is_config(config[k]) else config[k]
               for k in config if k != "hydra"}  # fmt: skip
    check_same_data(state.get("config") or {}, current)
