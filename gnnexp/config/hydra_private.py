"""The one place gnnexp may touch Hydra's private API (``hydra._internal``, patched internals).

None of it is imported or patched any more: what is left are two names of Hydra's in-process
launcher, below. Each use says why it is needed and is covered by a test
(``tests/test_hydra_private_sweeper.py``, ``tests/test_hydra_private_commands.py``) that
fails with a clear message when a Hydra release changes what it relies on. No other module
names ``hydra._internal``.
"""

from __future__ import annotations

# --- used by the Optuna sweeper (hydra_plugins/gnnexp_sweepers) ---------------------------
# It imports nothing private (tests/test_hydra_private_sweeper.py). It knows two names of
# Hydra's in-process launcher: its class, to import torch once before the trials that run
# in the sweeping process, and its module's logger, which says "Launching 1 jobs locally"
# for every trial.
BASIC_LAUNCHER_CLASS = "BasicLauncher"
BASIC_LAUNCHER_LOGGER = "hydra._internal.core_plugins.basic_launcher"


def runs_in_process(launcher: object) -> bool:
    """Whether ``launcher`` is Hydra's basic launcher, which runs each job in this process."""
    return type(launcher).__name__ == BASIC_LAUNCHER_CLASS


# --- used by the commands (error reporting, completion) ------------------------------------
# None. ``gnnexp train`` gets Hydra's composition errors raised by setting HYDRA_FULL_ERROR=1
# for the call (Hydra's documented switch; commands/train.our_errors), filters the one line
# of candidates Hydra's bash completion prints (commands/train.completion_without_schemas),
# and refuses several values without -m or ``+group=`` for a group the config has before
# Hydra runs (config/explain.check_overrides); config/explain reads exceptions' types and
# attributes, never their text. tests/test_hydra_private_commands.py checks each behaviour.
