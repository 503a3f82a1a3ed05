"""Experiment trackers: ``logger=[csv,tensorboard,mlflow]`` (metrics.csv is always written)."""

from gnnexp.loggers.base import LOGGERS, Logger, build_loggers

__all__ = ["LOGGERS", "Logger", "build_loggers"]
