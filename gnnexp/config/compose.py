"""Configs outside a Hydra run: composing the primary config, overriding a saved one."""

from __future__ import annotations

from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from gnnexp.config.components import GROUPS as COMPONENT_GROUPS
from gnnexp.config.explain import explained
from gnnexp.config.resolvers import register_resolvers
from gnnexp.config.schema import Config
from gnnexp.errors import ConfigError
from gnnexp.paths import config_dir

# Nodes an override may replace as a whole (``model=gat``): the declared groups and the
# trainer and device options.
GROUPS = (*COMPONENT_GROUPS, "trainer", "device")


def compose(overrides: list[str]) -> DictConfig:
    """The primary config with ``overrides``, as ``gnnexp train`` would compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    GlobalHydra.instance().clear()
    with explained(), initialize_config_dir(str(config_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def typed(stored: dict[str, Any]) -> DictConfig:
    """A plain config (read from a file) with the schemas ``gnnexp train`` composes it with,
    so that overrides get the same type checks and unknown keys are refused."""
    from gnnexp.config.validate import component_class

    with explained():
        fixed = {k: v for k, v in stored.items() if k not in COMPONENT_GROUPS}
        cfg = cast(DictConfig, OmegaConf.merge(OmegaConf.structured(Config), fixed))
        for group in COMPONENT_GROUPS:
            node = stored.get(group)
            if not isinstance(node, dict) or not COMPONENT_GROUPS[group]:  # a list group
                cfg[group] = node
                continue
            cls = component_class(group, node)
            # A user's own model keeps its extra keys: it has no schema that lists them.
            schema = {} if group == "model" and node.get("_target_") else OmegaConf.structured(cls)
            cfg[group] = OmegaConf.merge(schema, node)
    OmegaConf.set_struct(cfg, True)
    return cfg


def apply_overrides(stored: dict[str, Any], overrides: list[str]) -> DictConfig:
    """``stored`` with ``group=option`` and ``key=value`` overrides, parsed as Hydra parses
    them on ``gnnexp train``'s command line.

    A group option replaces the whole group node with the option's file, as composed by
    Hydra; a value override must name an existing key (typos are refused).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with explained():
        parsed = OverridesParser.create().parse_overrides(overrides)
    stored = dict(stored)
    chosen = [o for o in parsed if o.key_or_group in GROUPS and not o.is_delete()]
    if chosen:
        composed = compose([o.input_line for o in chosen if o.input_line])
        for o in chosen:
            stored[o.key_or_group] = OmegaConf.to_container(composed[o.key_or_group], resolve=True)
    cfg = typed(stored)
    with explained():
        for o in parsed:
            if o.key_or_group in GROUPS:
                continue
            if o.is_delete() or o.is_sweep_override():
                raise ConfigError(f"'{o.input_line}' is not a single value.", "give key=value.")
            if o.is_add() or o.is_force_add():
                raise ConfigError(
                    f"'{o.input_line}' adds a key, but {o.key_or_group} is not a setting any schema declares.",
                    f"drop the +, or check the spelling with gnnexp list {o.key_or_group.split('.')[0]}.",
                )
            OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
    return cfg
