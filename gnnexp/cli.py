"""The ``gnnexp`` command: dispatches to subcommands, importing only what each needs."""

from __future__ import annotations

import gc
import sys

from gnnexp.errors import did_you_mean

USAGE = """\
usage: gnnexp <command> [arguments]

Config-driven experiments for graph neural networks.

commands:
  train    train a model from composed configs, e.g.
             gnnexp train model=gat dataset=citeseer optimizer.lr=0.01
             gnnexp train -m model=gcn,gat seed=0,1,2       (a sweep)
             gnnexp train --cfg job                          (print the config)
             gnnexp train --help                             (config groups and options)
             gnnexp train trainer.resume=latest              (continue the latest run)
  eval     evaluate a trained model: gnnexp eval RUN_DIR_OR_CHECKPOINT [key=value ...]
  list     config groups and options: gnnexp list [GROUP] [--config-dir DIR]
  summarize  mean ± std per configuration of sweeps: gnnexp summarize DIR [DIR...] [--format csv]

Run 'gnnexp <command> --help' for a command's own options.
"""

COMMANDS = ("train", "eval", "list", "summarize")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command == "train":
        from gnnexp.commands import train

        return train.main(rest)
    if command == "summarize":
        from gnnexp.commands import summarize

        return summarize.main(rest)
    if command == "list":
        from gnnexp.commands import list_configs

        return list_configs.main(rest)
    if command == "eval":
        from gnnexp.commands import evaluate

        return evaluate.main(rest)
    sys.stderr.write(
        f"gnnexp: error: unknown command '{command}'.{did_you_mean(command, COMMANDS)} "
        f"Commands: {', '.join(COMMANDS)}.\n"
    )
    return 2


def run() -> None:
    """The console script: :func:`main`, then a quick exit."""
    code = main()
    # The interpreter's last garbage collection walks every object torch and PyG created
    # (~0.6 s on a small CPU); freezing them first skips that walk. atexit handlers and
    # file flushing still run as usual.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
