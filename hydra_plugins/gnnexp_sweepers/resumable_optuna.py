"""Hydra's Optuna sweeper, made to resume a study instead of starting it over.

hydra-optuna-sweeper keeps a study in its storage but always runs ``n_trials`` more trials
and numbers its jobs from 0 again. This wrapper counts the trials the storage already
holds: a stopped sweep re-run with the same ``hydra.sweep.dir`` runs only the trials that
are missing, and its jobs continue the numbering (so no job directory is reused). A
seeded sampler is re-seeded with ``seed + trials so far``: otherwise it would propose the
same parameters again, since Optuna does not store a sampler's random state.

Hydra imports every module of ``hydra_plugins`` when it starts, so the Optuna plugin is
imported only when this sweeper is actually used (it is an optional extra).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper

log = logging.getLogger(__name__)


class ResumableOptunaSweeper(Sweeper):
    def __init__(self, **kwargs: Any) -> None:
        # Optuna 2.10 needs SQLAlchemy 1.4 (pinned in the [optuna] extra), which otherwise
        # warns at import about its own 2.0 migration: nothing a user can act on.
        os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

        self.optuna = OptunaSweeper(**kwargs)
        self.sampler_config: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.optuna.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.sampler_config = config.hydra.sweeper.get("sampler")

    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        impl: Any = self.optuna.sweeper
        storage = impl.storage
        if isinstance(storage, str) and storage.startswith("sqlite:///"):
            Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            study = optuna.load_study(study_name=impl.study_name, storage=storage)
        except (KeyError, ValueError):  # no such study yet
            study = None
        if study is not None and study.trials:
            finished = sum(t.state.is_finished() for t in study.trials)
            impl.n_trials = max(0, impl.n_trials - finished)
            impl.job_idx = len(study.trials)
            seed = self.sampler_config.get("seed") if self.sampler_config is not None else None
            if seed is not None and "GridSampler" not in str(self.sampler_config.get("_target_")):
                from hydra.utils import instantiate
                from omegaconf import OmegaConf

                reseeded = OmegaConf.merge(self.sampler_config, {"seed": int(seed) + len(study.trials)})
                impl.sampler = instantiate(reseeded)
            log.info("Resuming study %s: %d trials done, %d to go", impl.study_name, finished, impl.n_trials)
        return impl.sweep(arguments)
