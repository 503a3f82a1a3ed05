"""What gnnexp's Optuna sweeper relies on in Hydra (gnnexp.config.hydra_private, its section): each
test fails with a message that names what changed and where gnnexp adapts to it."""

from __future__ import annotations

import importlib
import logging
import os
import re

from hydra import compose, initialize_config_dir
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher

from gnnexp.config.hydra_private import BASIC_LAUNCHER_CLASS, BASIC_LAUNCHER_LOGGER, runs_in_process
from gnnexp.config.resolvers import register_resolvers
from gnnexp.paths import config_dir
from tests.conftest import REPO

SWEEPER = REPO / "hydra_plugins" / "gnnexp_sweepers" / "optuna_sweeper.py"


def test_the_sweeper_imports_nothing_private_from_hydra():
    private = re.findall(r"^\s*(?:from|import) hydra\._internal\S*", SWEEPER.read_text(), re.MULTILINE)
    assert not private, (
        f"{SWEEPER} imports Hydra's private API {private}: do it in gnnexp.config.hydra_private"
    )


def test_hydras_in_process_launcher_has_the_names_gnnexp_knows():
    launchers = {f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Launcher)}
    assert f"{BASIC_LAUNCHER_LOGGER}.{BASIC_LAUNCHER_CLASS}" in launchers, (
        f"Hydra's in-process launcher is no longer {BASIC_LAUNCHER_LOGGER}.{BASIC_LAUNCHER_CLASS} "
        f"(launchers: {sorted(launchers)}): update BASIC_LAUNCHER_* in gnnexp.config.hydra_private"
    )
    module = importlib.import_module(BASIC_LAUNCHER_LOGGER)
    launcher = getattr(module, BASIC_LAUNCHER_CLASS)()
    assert runs_in_process(launcher)
    assert not runs_in_process(object())
    # The logger whose "Launching 1 jobs locally" the sweeper silences for every trial.
    log = getattr(module, "log", None)
    assert isinstance(log, logging.Logger) and log.name == BASIC_LAUNCHER_LOGGER, (
        f"{BASIC_LAUNCHER_LOGGER} no longer logs under its module's name: update the sweeper's log filter"
    )


def test_a_later_override_wins_and_a_callback_can_be_removed():
    """The further workers of a search are the same command with ``hydra.sweep.dir`` given
    again (resolved) and the summary and view callbacks removed."""
    register_resolvers()
    with initialize_config_dir(config_dir=os.path.abspath(config_dir()), version_base="1.3"):
        config = compose(
            "config",
            ["hydra.sweep.dir=first", "hydra.sweep.dir=/abs/second", "~hydra.callbacks.summary",
             "~hydra.callbacks.view"],
            return_hydra_config=True,
        )  # fmt: skip
    assert config.hydra.sweep.dir == "/abs/second", "Hydra no longer lets a later override of a key win"
    assert "summary" not in config.hydra.callbacks and "view" not in config.hydra.callbacks, (
        "Hydra no longer removes a callback with ~hydra.callbacks.<name>: the search's further workers "
        "would print the summary (optuna_sweeper._start_workers)"
    )
    assert "gnnexp" in config.hydra.callbacks
