"""``gnnexp train``: the Hydra application around :func:`gnnexp.running.run.train`."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

import hydra
from omegaconf import DictConfig

from gnnexp.commands.args import imports_from
from gnnexp.commands.hydra_argv import hydra_order, split_flags
from gnnexp.config.resolvers import register_resolvers
from gnnexp.config.trust import import_modules
from gnnexp.errors import GnnexpError, quiet_known_warnings, report
from gnnexp.paths import config_dir
from gnnexp.sweeps.view import CONSOLE_LOG, jobs_at_once

log = logging.getLogger(__name__)
register_resolvers()  # also in joblib/submitit workers, which import this module


def job_meta() -> tuple[Path, int, dict[str, Any]]:
    """Output dir, how many jobs of this sweep run at once here (0: not a sweep), and what
    results.json records."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    meta = {
        "choices": choices,
        "overrides": list(hc.overrides.task),
        "job_num": cast(Any, hc.job).get("num"),
    }  # a DictConfig at run time
    at_once = jobs_at_once(hc) if hc.mode == RunMode.MULTIRUN else 0
    return Path(hc.runtime.output_dir), at_once, meta


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def train_app(cfg: DictConfig) -> float | None:
    """One job: train and return the monitored value; a failure never ends a sweep."""
    from gnnexp.reporting.files import write_failure
    from gnnexp.running.fit import Interrupted

    quiet_known_warnings()  # a joblib or submitit worker starts without the CLI's filters
    out_dir, at_once, meta = job_meta()
    multirun = at_once > 0
    # A single run counts from the start of the gnnexp process; a sweep's job from its own start.
    started = None if multirun else command_started()
    try:
        return _train(cfg, out_dir, meta, at_once, started)
    except Interrupted as err:  # recorded, and the resume command printed, by the run itself
        raise SystemExit(err.exit_code) from None
    except GnnexpError as err:
        write_failure(out_dir, err, meta)
        report(err)
        if multirun:
            return float("nan")
        raise SystemExit(err.exit_code) from None
    except Exception as err:
        write_failure(out_dir, err, meta)
        if multirun:
            log.exception("job %s failed", out_dir)
            report(f"job {out_dir} failed with {type(err).__name__}: {err} (trace in failed.json)")
            return float("nan")
        raise


def command_started() -> float | None:
    """When this process started (``time.time()``), if it is a ``gnnexp`` command (Linux):
    its start-up, mostly importing torch, is part of the time a user waits for a run. None in
    a caller's process (a notebook, a test calling the CLI in-process) or where unknown."""
    import time

    if not any(Path(arg).name in ("gnnexp", "gnnexp.exe") for arg in sys.orig_argv[:3]):
        return None
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start, clock ticks after boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux
        return None
    return time.time() - age


def _train(
    cfg: DictConfig, out_dir: Path, meta: dict[str, Any], at_once: int, started: float | None
) -> float:
    """One job in this process, or, for ``trainer.strategy=ddp`` outside torchrun, in
    ``trainer.num_processes`` processes launched here.

    A job that runs beside others of its sweep (``at_once`` > 1) writes its table into its
    own console.log: the sweep view (``gnnexp.sweeps.view``) shows one line for it.
    """
    from gnnexp.running.experiment import Checked, checked
    from gnnexp.running.run import check_writable, train
    from gnnexp.training.distributed import under_torchrun

    # A single run's config was validated by the ValidateConfig callback (before Hydra
    # wrote into its directory); a sweep's jobs are validated here, once each.
    cfg = checked(cfg) if at_once else Checked(cfg)
    if cfg.trainer.strategy == "ddp" and not under_torchrun():
        from gnnexp.commands.ddp import launch

        check_writable(out_dir)
        return launch(cfg, out_dir, meta, started)
    if at_once <= 1:
        return train(cfg, out_dir, meta, jobs_at_once=max(1, at_once), started=started)
    from rich.console import Console

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / CONSOLE_LOG, "a", encoding="utf-8") as log_file:
        console = Console(file=log_file, width=120, no_color=True)
        return train(cfg, out_dir, meta, console=console, jobs_at_once=at_once, started=started)


OWN_FULL_ERROR = "GNNEXP_SET_HYDRA_FULL_ERROR"  # set beside HYDRA_FULL_ERROR=1 when gnnexp set it


@contextmanager
def our_errors() -> Iterator[None]:
    """Report Hydra's composition errors as one line with a suggestion, exit status 2.

    ``hydra.main`` prints its errors itself, several lines ending in a HYDRA_FULL_ERROR
    hint, unless HYDRA_FULL_ERROR=1 is set: then it raises them (Hydra's documented
    switch). It is set for the call, so the errors reach :func:`gnnexp.config.explain.explain`;
    a user who set it gets the full trace, as Hydra would give it.
    """
    from gnnexp.config.explain import explain

    # A search's further workers are this command again and inherit the environment: the
    # marker tells them the 1 is gnnexp's, not the user's.
    user = None if os.environ.get(OWN_FULL_ERROR) else os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if user is None:
        os.environ[OWN_FULL_ERROR] = "1"
    try:
        yield
    except GnnexpError:
        raise
    except Exception as err:
        if user == "1":
            raise
        friendly: GnnexpError | None = explain(err)
        if friendly is None and isinstance(err, OSError):  # e.g. Hydra cannot create the run dir
            friendly = GnnexpError(
                f"Cannot write {err.filename or 'the output directory'} ({err.strerror or err}).",
                "choose a writable place with hydra.run.dir=... (hydra.sweep.dir=... for -m).",
            )
        if friendly is None:  # not a config mistake: the trace, as Hydra would print it
            raise
        raise friendly from None
    finally:
        if user is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
            os.environ.pop(OWN_FULL_ERROR, None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = user


SHELL_COMPLETION = {"-sc", "--shell-completion"}


@contextmanager
def completion_without_schemas() -> Iterator[None]:
    """Hydra's bash completion of the line in COMP_LINE, with flags anywhere on it and
    without the internal schemas (``model=base_gat``), which Hydra offers beside the options.

    Hydra reads the line from COMP_LINE and parses it as a command line, so it needs the
    flags first; its answer is one line of candidates on stdout, filtered here.
    """
    import io
    from contextlib import redirect_stdout

    from gnnexp.commands.completion import is_schema

    line = os.environ.get("COMP_LINE", "")
    program, *words = line.split() or ["gnnexp"]
    # The program's name stays first; a trailing space (a new word is being started) must
    # survive the reordering.
    os.environ["COMP_LINE"] = " ".join([program, *hydra_order(words)]) + line[len(line.rstrip()) :]
    answer = io.StringIO()
    try:
        with redirect_stdout(answer):
            yield
    finally:
        os.environ["COMP_LINE"] = line
        words = answer.getvalue().split()
        sys.stdout.write(" ".join(w for w in words if not is_schema(w)) + "\n")


@contextmanager
def help_without_schemas() -> Iterator[None]:
    """Hydra's ``--help`` without schemas in its list of group options: gnnexp's own are not
    listed (``hydra_plugins.gnnexp_schemas``), but a user's config dir may hold one of theirs
    (``model/base_mine.yaml``), and Hydra's help template offers no filter."""
    import io
    from contextlib import redirect_stdout

    from gnnexp.config.components import SCHEMA_PREFIX

    answer = io.StringIO()
    try:
        with redirect_stdout(answer):
            yield
    finally:
        groups, sep, rest = answer.getvalue().partition("== Config ==")
        lines = []
        for line in groups.split("\n"):
            group, colon, options = line.partition(": ")
            if colon and " " not in group:
                kept = [o for o in options.split(", ") if not o.startswith(SCHEMA_PREFIX)]
                line = f"{group}: {', '.join(kept)}"
            lines.append(line)
        sys.stdout.write("\n".join(lines) + sep + rest)


def main(args: list[str]) -> int:
    """Run ``gnnexp train`` with Hydra command-line ``args``; returns the exit status."""
    from gnnexp.config.explain import check_overrides
    from gnnexp.running.resume import override, resume_args

    saved = sys.argv
    try:
        if os.environ.get("RANK", "0") != "0" and "WORLD_SIZE" in os.environ:
            # Under torchrun only rank 0 keeps a run directory; the others get a scratch one.
            args = [
                *args,
                override("hydra.run.dir", tempfile.mkdtemp(prefix="gnnexp-rank-")),
                "hydra.output_subdir=null",
            ]
        import_modules(imports_from(args))
        # Lets a resumed run import the code its own overrides.yaml names (gnnexp.running.resume).
        trusted = "--trust-config" in args
        args = [a for a in args if a != "--trust-config"]
        completing = bool(SHELL_COMPLETION & set(args))
        # Resuming rewrites trainer.resume=PATH (a path the shell passed unquoted) into quoted
        # overrides, so the check reads what Hydra will read.
        args = resume_args(args, trusted)
        flags, overrides = split_flags(args)
        if not completing and not any(f.startswith(("--config-name", "-cn")) for f in flags):
            check_overrides(overrides, multirun=bool({"-m", "--multirun"} & set(flags)))
        sys.argv = ["gnnexp train", *hydra_order(args)]
        helping = bool({"--help", "-h"} & set(flags))
        filtered = (
            completion_without_schemas()
            if completing
            else help_without_schemas()
            if helping
            else nullcontext()
        )
        with our_errors(), filtered:
            train_app()
    except GnnexpError as err:
        report(err)
        return err.exit_code
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except Exception:  # not a config mistake (our_errors): the trace, exit status 1 as Hydra's
        traceback.print_exc()
        return 1
    except KeyboardInterrupt:  # before training started: nothing to save
        sys.stderr.write("\ngnnexp: interrupted.\n")
        return 130
    finally:
        sys.argv = saved
    return 0
