"""``trainer.strategy=ddp`` launched by ``gnnexp train``: one process per rank on this machine.

Each process runs :func:`gnnexp.running.run.train` with its rank; under ``torchrun`` the processes
exist already and ``gnnexp.running.run`` joins their group instead.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from gnnexp.errors import GnnexpError, TrainingError, report
from gnnexp.reporting.files import RESULTS_FILE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    rank: int,
    world_size: int,
    config: dict[str, Any],
    out_dir: str,
    meta: dict[str, Any],
    port: int,
    started: float | None,
) -> None:
    import torch.distributed as torch_dist
    from rich.console import Console

    from gnnexp.running.experiment import Checked
    from gnnexp.running.run import train
    from gnnexp.training.distributed import Dist, backend
    from gnnexp.util.device import resolve_device

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cfg = Checked(OmegaConf.create(config))  # validated by the process that launched the ranks
    torch_dist.init_process_group(backend(resolve_device(cfg.device.type)), rank=rank, world_size=world_size)
    console = None if rank == 0 else Console(file=open(os.devnull, "w"))  # noqa: SIM115
    try:
        train(cfg, Path(out_dir), meta, console, dist=Dist(rank, world_size), started=started)
    except GnnexpError as err:
        if rank == 0:
            report(err)
        sys.exit(err.exit_code)
    finally:
        torch_dist.destroy_process_group()


def launch(cfg: Any, out_dir: Path, meta: dict[str, Any], started: float | None = None) -> float:
    """Train in ``trainer.num_processes`` processes; returns rank 0's monitored value.
    ``started``: when the run began, for results.json's wall time (``gnnexp.running.run.train``)."""
    import torch.multiprocessing as mp

    config = OmegaConf.to_container(cfg, resolve=True)
    world_size = int(cfg.trainer.num_processes)
    try:
        mp.spawn(
            _worker, args=(world_size, config, str(out_dir), meta, _free_port(), started), nprocs=world_size
        )
    except mp.ProcessRaisedException as err:  # a bug in a worker: keep its trace
        raise TrainingError(
            f"DDP process {err.error_index} failed: {str(err).strip().splitlines()[-1]}",
            "see the trace above.",
        ) from err
    except mp.ProcessExitedException as err:
        if err.exit_code in (130, 143):  # interrupted: rank 0 saved last.pt and said how to resume
            raise SystemExit(err.exit_code) from None
        raise TrainingError(
            f"DDP process {err.error_index} exited with status {err.exit_code}.",
            "see its message above; the run can be resumed from checkpoints/last.pt if one exists.",
        ) from None
    results = json.loads((out_dir / RESULTS_FILE).read_text())
    return float(results["best_value"])
