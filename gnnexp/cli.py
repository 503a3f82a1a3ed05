"""The ``gnnexp`` command: dispatches to subcommands, importing only what each needs."""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import signal
import sys

from gnnexp.errors import did_you_mean, quiet_known_warnings
from gnnexp.util import early_interrupt

USAGE = """\
usage: gnnexp <command> [arguments]

Config-driven experiments for graph neural networks (PyG + Hydra).

commands:
  train       train from composed configs:   gnnexp train model=gat dataset=citeseer
              a sweep, one job per value:    gnnexp train -m model=gcn,gat seed=0,1,2
              print the composed config:     gnnexp train --cfg job
              config groups and options:     gnnexp train --help
              continue the newest run:       gnnexp train trainer.resume=latest
  eval        evaluate a checkpoint:          gnnexp eval RUN_DIR [key=value ...] [--split test]
  predict     predictions as CSV:             gnnexp predict RUN_DIR [dataset overrides] --out preds.csv
  summarize   mean ± std per configuration:  gnnexp summarize SWEEP_DIR [--format csv|markdown|json]
  plot        overlay curves of runs/sweeps:  gnnexp plot DIR [DIR...] --out curves.png
  list        config groups and options:     gnnexp list [GROUP] [--config-dir DIR]
  completion  shell completion:              eval "$(gnnexp completion bash)"

RUN_DIR, SWEEP_DIR and DIR may be the word latest: the newest under ./outputs.
Run 'gnnexp <command> --help' for a command's own options.
"""

# command -> module in gnnexp.commands
COMMANDS = {
    "train": "train",
    "eval": "evaluate",
    "predict": "predict",
    "summarize": "summarize",
    "plot": "plot",
    "list": "list_configs",
    "completion": "completion",
}


# Commands that load torch.
TORCH_COMMANDS = ("train", "eval", "predict")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    command, rest = args[0], args[1:]
    quiet_known_warnings()
    if command in COMMANDS:
        # Each command's module is imported only when it runs: list and --help stay fast.
        try:
            with early_interrupt.watch():
                return _run_command(command, rest)
        except SystemExit as exit_:  # a command's argument parser: --help (0) or a usage error (2)
            return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except KeyboardInterrupt:  # Ctrl-C while a command loads (torch, configs): nothing to save
            sys.stderr.write("\ngnnexp: interrupted.\n")
            return 130
    sys.stderr.write(
        f"gnnexp: error: unknown command '{command}'.{did_you_mean(command, COMMANDS)} "
        f"Commands: {', '.join(COMMANDS)}.\n"
    )
    return 2


def _run_command(command: str, rest: list[str]) -> int:
    if command in TORCH_COMMANDS:
        # torch's C initialisation imports numpy and takes any error there, a Ctrl-C
        # included, for "numpy is missing": imported first, a Ctrl-C stays a Ctrl-C.
        import numpy  # noqa: F401
    code = int(importlib.import_module(f"gnnexp.commands.{COMMANDS[command]}").main(rest))
    if code == 0 and early_interrupt.received():  # a Ctrl-C some library swallowed
        sys.stderr.write("\ngnnexp: interrupted.\n")
        return 130
    return code


def run() -> None:
    """The console script: :func:`main`, then a quick exit."""
    # OpenMP threads that wait for work spin by default, so two runs on the same cores slow
    # each other down tens of times (gnnexp.training.threads). OpenMP reads this once, when
    # torch loads it: here, before any import of torch, and inherited by the jobs a launcher
    # starts. A value the user set stays.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    code = main()
    if code == 128 + signal.SIGINT:
        # A KeyboardInterrupt raised inside C code that ran Python (as some imports do)
        # makes the interpreter kill itself with SIGINT at exit even when the error was
        # handled; the status must stay 130, so exit here once atexit has run.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    # The interpreter's last garbage collection walks every object torch and PyG created
    # (~0.6 s on a small CPU); freezing them first skips that walk. atexit handlers and
    # file flushing still run as usual.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
