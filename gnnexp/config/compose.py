"""Configs outside a Hydra run: composing the primary config, overriding a saved one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from gnnexp.config.resolvers import register_resolvers
from gnnexp.config.schema import register_schemas
from gnnexp.errors import ConfigError
from gnnexp.paths import config_dir

GROUPS = ("model", "dataset", "task", "loader", "optimizer", "scheduler", "trainer", "device")


@contextmanager
def _explained() -> Iterator[None]:
    from gnnexp.config.explain import explain

    try:
        yield
    except ConfigError:
        raise
    except Exception as err:
        friendly = explain(err)
        if friendly is None:
            raise
        raise friendly from err


def compose(overrides: list[str]) -> DictConfig:
    """The primary config with ``overrides``, as ``gnnexp train`` would compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schemas()
    register_resolvers()
    GlobalHydra.instance().clear()
    with _explained(), initialize_config_dir(str(config_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``cfg`` with ``group=option`` and ``key=value`` overrides applied.

    A group option replaces the whole group node with the option's file, as composed by
    Hydra; a value override must name an existing key (typos are refused).
    """
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    pairs = []
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"'{override}' is not an override.", "write it as key=value or group=option.")
        key, value = override.split("=", 1)
        pairs.append((key.lstrip("+"), value))
    groups = [f"{k}={v}" for k, v in pairs if k in GROUPS]
    if groups:
        composed = compose(groups)
        with open_dict(cfg):
            for key, _ in (p for p in pairs if p[0] in GROUPS):
                cfg[key] = OmegaConf.to_container(composed[key], resolve=True)
    OmegaConf.set_struct(cfg, True)
    with _explained():
        for key, value in pairs:
            if key not in GROUPS:
                OmegaConf.update(cfg, key, yaml.safe_load(value), merge=True)
    return cfg
