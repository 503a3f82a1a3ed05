"""gnnexp's schemas (``base_config``, ``<group>/base_<name>``) served to Hydra on request.

Hydra's ConfigStore would hold them all as config nodes, and Hydra copies the whole store
for every composition: each trial of a search and each group ``--help`` lists paid for
every component gnnexp declares. Here a schema is made when a composition reads it.
Listings leave the schemas out: they are not options a user chooses (``model=gat`` starts
from ``base_gat``). ``conf/config.yaml`` puts this source on gnnexp's search path.
"""

from __future__ import annotations

from typing import Any

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigResult, ConfigSource

from gnnexp.config.schema import schema_class, schema_groups, schema_node


class GnnexpSchemaSource(ConfigSource):
    @staticmethod
    def scheme() -> str:
        return "gnnexp-schemas"

    def load_config(self, config_path: str) -> ConfigResult:
        node = schema_node(config_path)
        if node is None:
            raise ValueError(f"gnnexp has no schema {config_path}")
        return ConfigResult(
            config=node,
            path=f"{self.scheme()}://{self.path}",
            provider=self.provider,
            header={"package": None},
        )

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return config_path in schema_groups()

    def is_config(self, config_path: str) -> bool:
        return schema_class(config_path) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[Any]:
        return []
