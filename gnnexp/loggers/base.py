"""The tracker interface, and the trackers a run's ``logger`` node selects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import declared
from gnnexp.errors import ConfigError
from gnnexp.training.callbacks import Callback, FitOutcome

if TYPE_CHECKING:
    from gnnexp.records import EpochRecord
    from gnnexp.training.state import TrainState


class Logger:
    """Receives what a run produces; every method may be left as a no-op."""

    def log_hparams(self, config: dict[str, Any]) -> None:
        """The resolved config, once, before training."""

    def log_epoch(self, record: EpochRecord, metric: str) -> None:
        """One epoch: train loss, validation loss and metric (when evaluated), LR."""

    def log_results(self, results: dict[str, Any]) -> None:
        """The final results.json content."""

    def close(self, failed: bool = False) -> None:
        """Flush and release files, runs, connections (``failed``: the run did not finish)."""


def build_loggers(cfg: DictConfig | None, out_dir: Path, meta: dict[str, Any]) -> list[Logger]:
    """The trackers that ``cfg`` (the ``logger`` node: name -> settings) selects."""
    kinds = declared("logger")
    loggers = []
    for name, settings in cast("dict[str, Any]", cfg or {}).items():
        if name not in kinds:
            raise ConfigError(
                f"logger={name} is not a known tracker ({', '.join(sorted(kinds))}).", "check logger=[...]."
            )
        values = OmegaConf.to_container(settings, resolve=True) if OmegaConf.is_config(settings) else settings
        logger = kinds[name](**cast("dict[str, Any]", values or {})).build(out_dir, meta)
        if logger is not None:
            loggers.append(logger)
    return loggers


class Trackers(Callback):
    """The run's trackers as one callback; each tracker's run ends exactly once: finished
    by :meth:`finish` with the results, or failed when training fails or is interrupted."""

    def __init__(self, loggers: list[Logger], config: dict[str, Any], metric: str) -> None:
        self.loggers = loggers
        self.config = config
        self.metric = metric
        self.open = bool(loggers)

    def on_start(self, state: TrainState) -> None:
        for logger in self.loggers:
            logger.log_hparams(self.config)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        for logger in self.loggers:
            logger.log_epoch(record, self.metric)

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        if outcome.interrupted:
            self._close(failed=True)

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._close(failed=True)

    def finish(self, results: dict[str, Any]) -> None:
        """The final results, then the trackers' runs end as finished."""
        if self.open:
            for logger in self.loggers:
                logger.log_results(results)
        self._close(failed=False)

    def _close(self, failed: bool) -> None:
        if self.open:
            self.open = False
            for logger in self.loggers:
                logger.close(failed=failed)
