"""gnnexp's schemas reach Hydra through its own config source, made on request, not through
Hydra's ConfigStore (which Hydra copies whole for every composition and every group --help lists)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from gnnexp.config.compose import compose
from gnnexp.config.schema import schema_class, schema_groups, schema_node


def test_a_composed_config_has_the_schema_defaults_its_yaml_leaves_out():
    cfg = compose(["model=gat", "trainer=default"])
    # Neither conf/model/gat.yaml nor conf/trainer/default.yaml states these: only the schemas do.
    assert cfg.model.num_layers == 2 and cfg.model.heads == 8 and cfg.trainer.patience == 100
    stored = ConfigStore.instance().repo
    for group in schema_groups():
        assert not any(name.startswith("base_") for name in stored.get(group, {})), group
    assert "base_config.yaml" not in stored


def test_each_schema_node_is_new_and_unknown_names_are_none():
    first, second = schema_node("model/base_gat"), schema_node("model/base_gat.yaml")
    assert first is not second and first == second
    first.heads = 3
    assert schema_node("model/base_gat").heads == 8  # a change to one load reaches no other
    assert schema_node("base_config").seed == 0 and schema_node("trainer/base_trainer").patience == 100
    # The open base of a user's own option takes keys of its own; a declared one does not.
    assert OmegaConf.is_struct(schema_node("model/base_gat")) is not False
    assert OmegaConf.is_struct(schema_node("model/base_model")) is False
    assert schema_class("model/base_model")[1] is True and schema_class("model/base_gat")[1] is False
    for missing in (
        "model/gat",
        "model/base_nothing",
        "nothing/base_gat",
        "base_other",
        "trainer/base_device",
    ):
        assert schema_node(missing) is None, missing
