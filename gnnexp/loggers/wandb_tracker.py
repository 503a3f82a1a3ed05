"""The Weights & Biases tracker; ``wandb`` is an optional extra.

Offline (``WANDB_MODE=offline`` or ``logger.wandb.mode=offline``) the W&B run lives in
``<run dir>/wandb/offline-run-*``, to upload later with ``wandb sync``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gnnexp.errors import ConfigError, GnnexpError
from gnnexp.loggers.base import Logger
from gnnexp.loggers.trackers import _missing as missing_package
from gnnexp.loggers.trackers import epoch_scalars, result_scalars
from gnnexp.records import EpochRecord
from gnnexp.util.atomic import write_text

log = logging.getLogger(__name__)

RUN_FILE = "wandb_run.txt"  # the W&B run's directory and id, like mlflow_run.txt
GROUP_LENGTH = 128  # W&B refuses longer group names


class WandbLogger(Logger):
    """One W&B run per fit (per fold with ``trainer.folds``), started when training starts."""

    def __init__(self, settings: Any, out_dir: Path, meta: dict[str, Any]) -> None:
        try:
            import wandb
        except ImportError as err:
            raise missing_package("wandb", "wandb", "wandb") from err
        self.wandb = wandb
        self.settings = settings
        self.out_dir = out_dir
        self.meta = meta
        # The config's mode, else wandb's own resolution (WANDB_MODE, `wandb offline`). It is
        # set for the whole process, as WANDB_MODE would: offline, wandb's client then sends
        # no telemetry of its own either (it would try to reach W&B's servers from a run's log calls).
        setup = wandb.setup(wandb.Settings(mode=settings.mode) if settings.mode else None)
        self.mode = str(setup.settings.mode)
        online = self.mode not in ("offline", "dryrun", "disabled")
        if online and not wandb.login(prompt=False, verify=False):
            # Without a key wandb would ask for one at the terminal, in the middle of a run.
            raise ConfigError(
                "logger=wandb runs online but finds no W&B login (no WANDB_API_KEY, no ~/.netrc entry).",
                "run `wandb login` once, or run offline: WANDB_MODE=offline or logger.wandb.mode=offline.",
            )
        self.run: Any = None
        self.last_epoch: int | None = None

    def log_hparams(self, config: dict[str, Any]) -> None:
        wandb = self.wandb
        s = self.settings
        try:
            self.run = wandb.init(
                project=s.project,
                entity=s.entity,
                group=s.group or self._sweep_group(config),
                name=s.name or self._name(),
                tags=list(s.tags),
                config=config,
                dir=str(self.out_dir),
                mode=self.mode,
                reinit="create_new",  # a sweep's jobs in one process: each its own run
                settings=wandb.Settings(
                    # gnnexp's table and train.log already hold the output; wandb's capture
                    # of stdout would wrap the live table, and its banners would interleave.
                    console="off",
                    silent=True,
                ),
            )
        except wandb.Error as err:
            raise GnnexpError(
                f"W&B could not start the run: {str(err).splitlines()[0]}",
                "check the network and `wandb login`, or run offline: WANDB_MODE=offline.",
            ) from None
        if self.mode in ("offline", "dryrun"):
            sync_dir = Path(self.run.settings.sync_dir)
            write_text(self.out_dir / RUN_FILE, f"{sync_dir}\n{self.run.id}\n")
            log.info(
                "W&B run %s is offline in %s: upload it with wandb sync %s", self.run.id, sync_dir, sync_dir
            )
        elif self.mode != "disabled":
            write_text(self.out_dir / RUN_FILE, f"{self.run.url}\n{self.run.id}\n")

    def _name(self) -> str:
        if self.meta.get("fold") is not None:
            return f"{self.out_dir.parent.name}/{self.out_dir.name}"
        return self.out_dir.name

    def _sweep_group(self, config: dict[str, Any]) -> str | None:
        """A sweep's or search's jobs share a group named for its directory (a search's also
        for its study); a cross-validated run's folds share one named for the run."""
        run_dir = self.out_dir.parent if self.meta.get("fold") is not None else self.out_dir
        study = (config.get("trial") or {}).get("study")
        if self.meta.get("job_num") is None and study is None:
            return None if run_dir == self.out_dir else _shown(run_dir)[-GROUP_LENGTH:]
        prefix = f"{study}@" if study is not None else ""
        return prefix + _shown(run_dir.parent)[-(GROUP_LENGTH - len(prefix)) :]

    def log_epoch(self, record: EpochRecord, metric: str) -> None:
        if self.run is None:
            return
        row = {**epoch_scalars(record, metric), "epoch": record.epoch, "epoch_time_s": record.time_s}
        self.run.log(row, step=record.epoch)
        self.last_epoch = record.epoch

    def log_results(self, results: dict[str, Any]) -> None:
        if self.run is None:
            return
        summary: dict[str, Any] = {f"final/{k}": v for k, v in result_scalars(results).items()}
        summary["best_epoch"] = results.get("best_epoch")
        pruned = results.get("pruned_epoch")
        if pruned is not None:
            summary["pruned_epoch"] = pruned
            self.run.tags = (*self.run.tags, "pruned")
        summary["status"] = "pruned" if pruned is not None else "completed"
        self.run.summary.update(summary)
        curves = self.out_dir / "curves.png"
        if curves.is_file():  # drawn when training ended, unless trainer.curves=false
            self.run.log({"curves": self.wandb.Image(str(curves))}, step=self.last_epoch)

    def close(self, failed: bool = False) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        if failed:
            run.summary["status"] = "failed"
        run.finish(exit_code=1 if failed else 0)


def _shown(path: Path) -> str:
    """``path`` as the user named it: relative to the working directory when inside it."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path(os.getcwd())))
    except ValueError:
        return str(absolute)
