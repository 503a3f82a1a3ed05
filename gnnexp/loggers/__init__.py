"""Experiment trackers: ``logger=[csv,tensorboard,mlflow]`` (metrics.csv is always written)."""

from gnnexp.loggers.base import Logger, build_loggers

__all__ = ["Logger", "build_loggers"]
