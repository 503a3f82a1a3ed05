"""Draws curves.png, preferably in a helper process started before torch is imported.

Importing matplotlib costs about 0.4 s, as much as training a GCN on Cora. ``gnnexp
train`` starts the helper first thing, so matplotlib loads on the other core while this
process imports torch and PyG; at the end of a run the helper draws while this process
writes its results. Wherever there is no helper (a joblib or DDP worker, a test calling
``gnnexp.run.train`` directly), the picture is drawn in-process. A plotting problem never
fails a run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gnnexp.training.callbacks import Callback, FitOutcome

if TYPE_CHECKING:
    from gnnexp.training.state import TrainState

log = logging.getLogger(__name__)


def paint(request: dict[str, Any]) -> None:
    """curves.png from a metrics.csv (nothing when it holds no epoch yet)."""
    metrics = Path(request["metrics"])
    if not metrics.is_file() or len(metrics.read_text().splitlines()) < 2:
        return
    from gnnexp.reporting.plots import plot_run

    plot_run(
        metrics, Path(request["out"]), request["metric"], request["best_epoch"] or None, request["title"]
    )


_PAINTERS: weakref.WeakSet[Painter] = weakref.WeakSet()


def _forget_helpers() -> None:
    # A forked trial worker (gnnexp.search.forked) draws in-process: two processes writing
    # requests into one helper's pipe would read each other's answers.
    for painter in list(_PAINTERS):
        painter.process = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)


class Painter:
    """A helper process that draws on request (one JSON line in, one status line out)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        _PAINTERS.add(self)

    def start(self) -> None:
        if self.process is None:
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "gnnexp.reporting.painter"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            except OSError:
                self.process = None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            try:
                process.stdin.close()  # type: ignore[union-attr]
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()

    def _ask(self, request: dict[str, Any]) -> bool:
        process = self.process
        if process is None or process.poll() is not None:
            return False
        try:
            process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            return process.stdout.readline().strip() == "ok"  # type: ignore[union-attr]
        except OSError:
            return False

    def draw(self, metrics: Path, out: Path, metric: str, best_epoch: int, title: str) -> None:
        request = {
            "metrics": str(metrics),
            "out": str(out),
            "metric": metric,
            "best_epoch": best_epoch,
            "title": title,
        }
        if self._ask(request):
            return
        try:
            paint(request)
        except Exception as err:  # matplotlib missing or failing: the results matter more
            log.warning("curves.png not drawn: %s", err)


class Curves(Callback):
    """Draws curves.png when training ends, successfully or not."""

    def __init__(self, painter: Painter, metrics: Path, out: Path, metric: str, title: str) -> None:
        self.painter, self.metrics, self.out, self.metric, self.title = painter, metrics, out, metric, title

    def _draw(self, state: TrainState) -> None:
        self.painter.draw(self.metrics, self.out, self.metric, state.stopper.best_epoch, self.title)

    def on_end(self, state: TrainState, outcome: FitOutcome) -> None:
        self._draw(state)

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._draw(state)


def main() -> None:
    """The helper: import matplotlib now, then draw each request read from stdin."""
    try:
        import matplotlib.backends.backend_agg  # noqa: F401

        import gnnexp.reporting.plots  # noqa: F401
    except ImportError:
        pass  # each request then answers with the error, and is drawn (or reported) by the caller
    for line in sys.stdin:
        try:
            paint(json.loads(line))
            answer = "ok"
        except Exception as err:
            answer = f"error {type(err).__name__}: {err}"
        sys.stdout.write(answer.replace("\n", " ") + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
