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
