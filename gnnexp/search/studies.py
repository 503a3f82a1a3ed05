"""Optuna studies as gnnexp keeps them: where they live, and the trial a run reports to.

The sweeper (``hydra_plugins.gnnexp_sweepers.optuna_sweeper``) asks the study for trials;
each trial's run opens the same storage to report its validation values and to ask the
pruner whether to go on (``gnnexp.training.pruning``). Optuna is an optional extra: it is
imported only here, and only when a study is used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gnnexp.errors import GnnexpError

# A local study: Optuna's journal file, which several processes may append to at once.
JOURNAL_FILE = "optuna.journal"
LOCK_FILE = "optuna.lock"  # locked by each worker while it asks for a trial (gnnexp.search.driver)
# Seconds between a running trial's heartbeats; a trial silent for GRACE_S has died.
HEARTBEAT_S = 10
GRACE_S = 60


def optuna_module() -> Any:
    """The optuna package, or one line saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise GnnexpError(
            "Hyperparameter search needs Optuna, which is not installed.",
            "pip install 'gnnexp[optuna]' (or: make install-optuna).",
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # trials are reported by gnnexp
    return optuna


def open_storage(spec: str) -> Any:
    """The storage ``spec`` names: an RDB URL (``sqlite:///...``, ``postgresql://...``) for a
    cluster, else the path of a journal file (created with its folder)."""
    optuna = optuna_module()
    if "://" in spec:
        # The sweeper keeps heartbeats itself (gnnexp.search.driver), alike for every storage.
        return optuna.storages.RDBStorage(spec)
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def repair_journal(path: Path) -> str | None:
    """Cut a torn last record (a write cut short, e.g. by a full disk) off the journal file.

    Optuna skips such a record when it reads, but appends the next one after it on the same
    line, which no later read gets past. The original bytes are kept beside the file first.
    Done under Optuna's own lock of the file, so an append in progress is never taken for a
    torn one. Returns the line that says what was done, or None.
    """
    optuna_module()
    from optuna.storages.journal import JournalFileSymlinkLock

    if not path.is_file() or path.stat().st_size == 0:
        return None
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        data = path.read_bytes()
        body, _, last = data.rstrip(b"\n").rpartition(b"\n")
        if data.endswith(b"\n") and _is_record(last):
            return None
        keep = len(body) + 1 if body else 0
        number = 1
        while (backup := path.with_name(f"{path.name}.torn-{number}")).exists():
            number += 1
        backup.write_bytes(data)
        with open(path, "r+b") as file:
            file.truncate(keep)
            os.fsync(file.fileno())
    finally:
        lock.release()
    return (
        f"{path}: its last record was cut short ({len(data) - keep} bytes, e.g. by a full disk) and is "
        f"ignored; the file as it was is kept in {backup}"
    )


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


PRUNER_ATTR = "gnnexp:pruner"  # study user attribute: the pruner's settings, for the trials' runs


def build_pruner(spec: Any) -> Any:
    """``{_target_: optuna.pruners.X, **arguments}`` as a pruner; None or {} prunes nothing.

    The spec may come from a study's storage, which is data: only Optuna's own pruners are
    built from it, never another importable name.
    """
    optuna = optuna_module()
    if not spec:
        return optuna.pruners.NopPruner()
    if not isinstance(spec, dict):
        raise GnnexpError(
            f"The pruner {spec!r} is not a mapping.", "give pruner: {_target_: optuna.pruners.MedianPruner}."
        )
    arguments = dict(spec)
    target = str(arguments.pop("_target_", ""))
    name = target.removeprefix("optuna.pruners.")
    pruner = getattr(optuna.pruners, name, None) if target.startswith("optuna.pruners.") else None
    if not isinstance(pruner, type) or not issubclass(pruner, optuna.pruners.BasePruner):
        known = ", ".join(n for n in dir(optuna.pruners) if n.endswith("Pruner") and n != "BasePruner")
        raise GnnexpError(
            f"pruner {target!r} is not one of Optuna's pruners.", f"use optuna.pruners.<one of {known}>."
        )
    try:
        return pruner(**arguments)
    except (TypeError, ValueError) as err:
        raise GnnexpError(
            f"pruner {target}: {err}.", "check its arguments in Optuna's documentation."
        ) from None


def load_trial(storage_spec: str, study_name: str, number: int) -> Any:
    """The running trial ``number`` of the study, as an ``optuna.Trial`` this process reports to,
    judged by the pruner the sweeper recorded in the study."""
    optuna = optuna_module()
    storage = open_storage(storage_spec)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        study = optuna.load_study(
            study_name=study_name, storage=storage, pruner=build_pruner(study.user_attrs.get(PRUNER_ATTR))
        )
    except KeyError:
        raise GnnexpError(
            f"No study named {study_name!r} in {storage_spec}.",
            "trial.* is set by the Optuna sweeper; leave it unset for a plain run.",
        ) from None
    study_id = storage.get_study_id_from_name(study_name)
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    except KeyError:
        raise GnnexpError(
            f"The study {study_name!r} has no trial {number}.", "leave trial.* to the Optuna sweeper."
        ) from None
    if storage.get_trial(trial_id).state.is_finished():
        raise GnnexpError(
            f"Trial {number} of the study {study_name!r} has finished; a run cannot report to it.",
            "leave trial.* to the Optuna sweeper.",
        )
    return optuna.trial.Trial(study, trial_id)
