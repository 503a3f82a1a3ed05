"""Composing a sweep's jobs without reading the config files again for each one.

Hydra composes every job of a sweep from scratch: it parses the overrides, reads each
config file of the search path and merges them, about 0.3 s a job, which is as long as a
pruned trial's training. The jobs of one search differ in a few values, and often in no
config group at all, so :class:`ReusingConfigLoader` reads each file once and merges each
distinct list of files (a defaults list) once; every job then gets its own copy, to which
Hydra applies the job's overrides as usual. The result is the config Hydra would compose
(tests/test_search.py compares them). Config files edited while a search runs do not
reach its later trials, which keeps the trials of one search comparable.
"""

from __future__ import annotations

import copy
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.config_repository import CachingConfigRepository
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig


class _ReadOnce(CachingConfigRepository):
    """Hydra's per-composition cache, filled from files read once per search.

    Composing merges the loaded files' nodes into the result without copying them, so the
    files a composition merges are changed by it: with ``copies`` every composition gets its
    own copies, as Hydra's fresh cache would give it, and the files as read stay untouched in
    ``read``. Building the defaults list only reads the files (Hydra copies their defaults
    itself), so it takes them as read.
    """

    def __init__(self, delegate: Any, read: dict[str, Any], copies: bool) -> None:
        # Hydra's own copies the whole repository for every composition, in case the primary
        # config's hydra.searchpath changes its sources; here only when it does.
        self.delegate = delegate
        self.cache = {}
        self.read = read
        self.copies = copies

    def initialize_sources(self, config_search_path: Any) -> None:
        self.delegate = copy.deepcopy(self.delegate)
        self.delegate.initialize_sources(config_search_path)

    def load_config(self, config_path: str) -> Any:
        key = f"config_path={config_path}"
        if key not in self.cache:
            if key not in self.read:
                self.read[key] = self.delegate.load_config(config_path=config_path)
            self.cache[key] = copy.deepcopy(self.read[key]) if self.copies else self.read[key]
        return self.cache[key]


class ReusingConfigLoader(ConfigLoaderImpl):
    """Hydra's config loader, reading the config files once per search."""

    def __init__(self, config_search_path: Any) -> None:
        super().__init__(config_search_path=config_search_path)
        self._read: dict[str, Any] = {}
        self._composed: dict[tuple[Any, ...], DictConfig] = {}

    def _parse_overrides_and_create_caching_repo(
        self, config_name: str | None, overrides: list[str]
    ) -> tuple[list[Any], CachingConfigRepository]:
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
        if any(o.key_or_group.startswith("hydra.searchpath") for o in parsed):
            return super()._parse_overrides_and_create_caching_repo(config_name, overrides)
        repo = _ReadOnce(self.repository, self._read, copies=False)
        self._process_config_searchpath(config_name, parsed, repo)
        return parsed, repo

    def _compose_config_from_defaults_list(self, defaults: list[Any], repo: Any) -> DictConfig:
        if not isinstance(repo, _ReadOnce):  # another search path: Hydra's own way
            return super()._compose_config_from_defaults_list(defaults, repo)
        # The same files in the same order merge into the same config; each trial changes
        # its own copy.
        key = tuple((d.config_path, d.parent, d.package, d.is_self) for d in defaults)
        if key not in self._composed:
            merging = _ReadOnce(repo.delegate, self._read, copies=True)
            self._composed[key] = super()._compose_config_from_defaults_list(defaults, merging)
        return copy.deepcopy(self._composed[key])
