"""Tasks: what a batch is, how the loss is computed and how a split is evaluated."""

from gnnexp.tasks.base import Task, build_task

__all__ = ["Task", "build_task"]
