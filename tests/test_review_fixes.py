"""Cases a review of the simplification found: each failed before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gnnexp.errors import ConfigError, DataError


def test_a_resumed_runs_imports_entry_by_index_is_refused(tmp_path: Path) -> None:
    from gnnexp.running.resume import _refuse_code

    for entry in ("imports.0=os", "+imports.1=mypkg", "model.head._target_=os.system"):
        with pytest.raises(ConfigError, match="names code to import"):
            _refuse_code([entry], tmp_path)
    _refuse_code(["model.hidden_channels=8", "dataset=cora"], tmp_path)  # data, not code


def test_untrusted_processed_files_without_raw_files_are_refused_not_deleted(tmp_path: Path) -> None:
    from gnnexp.data.processed import verified

    processed = tmp_path / "Set" / "processed"
    processed.mkdir(parents=True)
    (processed / "data.pt").write_bytes(b"built elsewhere")
    with pytest.raises(DataError, match="no raw files to rebuild them from"), verified([processed]):
        pass
    assert (processed / "data.pt").read_bytes() == b"built elsewhere"  # nothing deleted


def test_a_users_no_weights_only_setting_is_set_aside_while_pyg_loads(monkeypatch, tmp_path: Path) -> None:
    from gnnexp.data.processed import FORCE_SAFE, FORCE_UNSAFE, verified

    monkeypatch.setenv(FORCE_UNSAFE, "1")
    monkeypatch.delenv(FORCE_SAFE, raising=False)
    with verified([tmp_path / "processed"]):
        # torch refuses every load when both are set: only the safe one is, here
        assert os.environ.get(FORCE_SAFE) == "1" and FORCE_UNSAFE not in os.environ
    assert os.environ.get(FORCE_UNSAFE) == "1" and FORCE_SAFE not in os.environ


def test_gnnexps_own_hydra_full_error_is_not_taken_for_the_users(monkeypatch) -> None:
    """A search's further workers are the command again, started inside our_errors: they
    inherit HYDRA_FULL_ERROR=1 and must still explain Hydra's errors in one line."""
    from hydra.errors import OverrideParseException

    from gnnexp.commands.train import OWN_FULL_ERROR, our_errors

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.delenv(OWN_FULL_ERROR, raising=False)
    with our_errors():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"
        with pytest.raises(ConfigError), our_errors():  # the worker's, with the inherited env
            raise OverrideParseException("model=gat=x", "no viable alternative")
    assert "HYDRA_FULL_ERROR" not in os.environ and OWN_FULL_ERROR not in os.environ
    # A user who set it gets Hydra's own exception, as Hydra would give it.
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(OverrideParseException), our_errors():
        raise OverrideParseException("model=gat=x", "no viable alternative")
    assert os.environ["HYDRA_FULL_ERROR"] == "1"


def test_a_new_run_forgets_a_signal_an_earlier_run_of_the_process_got() -> None:
    from gnnexp.training import interrupt
    from gnnexp.util import early_interrupt

    early_interrupt.take()  # a Ctrl-C an earlier test left latched would be taken as this run's
    interrupt._SIGNALLED.set()
    stop = interrupt.StopOnSignal()
    stop.__enter__()
    try:
        assert not interrupt.signalled()
    finally:
        stop.__exit__()


def test_curves_are_drawn_while_a_ctrl_c_still_means_stop_after_this_step(gnnexp, monkeypatch) -> None:
    import gnnexp.running.fit as fit
    from gnnexp.reporting.curves import Curves
    from gnnexp.training.interrupt import StopOnSignal

    order: list[str] = []
    built = fit.fit_callbacks

    def spy(*args, **kwargs):
        callbacks, checkpoints, trackers = built(*args, **kwargs)
        order.extend(type(c).__name__ for c in callbacks if isinstance(c, (Curves, StopOnSignal)))
        return callbacks, checkpoints, trackers

    monkeypatch.setattr(fit, "fit_callbacks", spy)
    result = gnnexp("dataset=synthetic", "dataset.num_nodes=200", "trainer.max_epochs=2")
    assert result.code == 0, result.err
    assert order == ["Curves", "StopOnSignal"]
