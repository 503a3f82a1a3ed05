"""The built-in components: importing this module declares every one of them.

Which models, datasets, tasks, loaders, optimizers, schedulers and trackers exist is asked
of :mod:`gnnexp.config.components`, whose declarations live in the packages that build
them. The package itself (``gnnexp/__init__.py``) imports this module, so every question
sees them and the config layer never imports upwards; every module here is torch-free at
import time (tests/test_layers.py).
"""

from __future__ import annotations

from gnnexp.data import bipartite, datasets, hetero_sources, kg_datasets, loaders, transforms
from gnnexp.loggers import kinds as logger_kinds
from gnnexp.models import archs, conv_archs, gps_arch, hetero_archs, kge_archs, lightgcn
from gnnexp.tasks import hetero_kinds, kg_kind, recommend_kinds
from gnnexp.tasks import kinds as task_kinds
from gnnexp.training import optimizers, schedulers

MODULES = (
    archs,
    conv_archs,
    gps_arch,
    datasets,
    task_kinds,
    loaders,
    optimizers,
    schedulers,
    logger_kinds,
    kge_archs,
    kg_datasets,
    kg_kind,
    transforms,
    hetero_sources,
    hetero_archs,
    hetero_kinds,
    bipartite,
    lightgcn,
    recommend_kinds,
)
