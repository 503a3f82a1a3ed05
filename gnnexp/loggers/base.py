"""The tracker interface and ``logger`` name -> class."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gnnexp.errors import ConfigError
from gnnexp.registry import registrar
from gnnexp.training.loop import EpochRecord


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


Factory = Callable[[DictConfig, Path, dict[str, Any]], Logger]
LOGGERS: dict[str, Factory] = {}


# ``@register_logger("mlflow")`` makes a tracker selectable as ``logger=[...,mlflow]``.
register_logger = registrar(LOGGERS)


def build_loggers(cfg: DictConfig | None, out_dir: Path, meta: dict[str, Any]) -> list[Logger]:
    """The trackers that ``cfg`` (the ``logger`` node: name -> settings) selects."""
    from gnnexp.loggers import trackers  # noqa: F401  (registers the built-in trackers)

    loggers = []
    for name, settings in (cfg or {}).items():
        if name == "csv":  # metrics.csv is written by every run anyway
            continue
        if name not in LOGGERS:
            raise ConfigError(
                f"logger={name} is not a known tracker ({', '.join(sorted(LOGGERS))}).", "check logger=[...]."
            )
        loggers.append(LOGGERS[name](settings, out_dir, meta))
    return loggers
