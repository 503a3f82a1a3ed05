"""TensorBoard and MLflow trackers; their packages are optional extras."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gnnexp.errors import ConfigError
from gnnexp.loggers.base import Logger
from gnnexp.records import EpochRecord
from gnnexp.util.atomic import write_text


def _missing(name: str, package: str, extra: str) -> ConfigError:
    return ConfigError(
        f"logger={name} needs the {package} package, which is not installed.",
        f"pip install 'gnnexp[{extra}]' (or make install-{extra}), or drop {name} from logger=[...].",
    )


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model.hidden_channels": 16, ...}`` with lists as strings (what trackers accept)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def epoch_scalars(record: EpochRecord, metric: str) -> dict[str, float]:
    scalars = {"train/loss": record.train_loss, "lr": record.lr}
    if record.val is not None:
        scalars["val/loss"] = record.val["loss"]
        scalars[f"val/{metric}"] = record.val[metric]
    return {k: v for k, v in scalars.items() if math.isfinite(v)}


def result_scalars(results: dict[str, Any]) -> dict[str, float]:
    out = {}
    for split in ("val", "test"):
        for name, value in (results.get(split) or {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[f"{split}/{name}"] = float(value)
    return out


class TensorBoardLogger(Logger):
    """Scalars per epoch and the config as hyper-parameters, in ``<run dir>/tensorboard``."""

    def __init__(self, settings: Any, out_dir: Path, meta: dict[str, Any]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise _missing("tensorboard", "tensorboard", "tensorboard") from err
        self.writer = SummaryWriter(str(out_dir / settings.dir))
        self.hparams: dict[str, Any] = {}

    def log_hparams(self, config: dict[str, Any]) -> None:
        self.hparams = flatten(config)
        text = "\n".join(f"    {k}: {v}" for k, v in sorted(self.hparams.items()))
        self.writer.add_text("config", text, 0)

    def log_epoch(self, record: EpochRecord, metric: str) -> None:
        for tag, value in epoch_scalars(record, metric).items():
            self.writer.add_scalar(tag, value, record.epoch)

    def log_results(self, results: dict[str, Any]) -> None:
        final = {f"final/{k}": v for k, v in result_scalars(results).items()}
        self.writer.add_hparams(self.hparams, final, run_name="hparams")

    def close(self, failed: bool = False) -> None:
        self.writer.close()


class MLflowLogger(Logger):
    """An MLflow run with params, per-epoch metrics and the results, in a local SQLite store.

    MLflow 3 refuses its plain file store unless an opt-out variable is set, so the default
    tracking URI is a SQLite database; give any tracking URI (a server too) instead.
    """

    def __init__(self, settings: Any, out_dir: Path, meta: dict[str, Any]) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as err:
            raise _missing("mlflow", "mlflow-skinny", "mlflow") from err
        uri = str(settings.tracking_uri)
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(uri)
        experiment = self.client.get_experiment_by_name(settings.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else self.client.create_experiment(str(settings.experiment))
        )
        choices = meta.get("choices") or {}
        name = f"{choices.get('model', '')}_{choices.get('dataset', '')}".strip("_") or out_dir.name
        run = self.client.create_run(experiment_id, run_name=name, tags={"gnnexp.run_dir": str(out_dir)})
        self.run_id = run.info.run_id
        self.tracking_uri = uri
        write_text(out_dir / "mlflow_run.txt", f"{uri}\n{self.run_id}\n")

    def log_hparams(self, config: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(k, str(v)[:500]) for k, v in flatten(config).items()]
        for start in range(0, len(params), 100):  # MLflow caps a batch at 100 params
            self.client.log_batch(self.run_id, params=params[start : start + 100])

    def log_epoch(self, record: EpochRecord, metric: str) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k.replace("/", "_"), v, now, record.epoch)
            for k, v in epoch_scalars(record, metric).items()
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_results(self, results: dict[str, Any]) -> None:
        for key, value in result_scalars(results).items():
            self.client.log_metric(self.run_id, f"final_{key.replace('/', '_')}", value)

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")
