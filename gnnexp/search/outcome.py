"""What a search leaves in its sweep directory, and how ``gnnexp summarize`` reads it back.

- ``study.json``: every trial (number, state, values, parameters, epochs, run directory),
  the counts by state, the best trial (single objective) or the Pareto front.
- ``best.yaml``: the best trial's overrides and the one-line command that re-trains it.

Optuna's figures are drawn by ``gnnexp.search.figures``.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import Any

import yaml

from gnnexp.util.atomic import read_json_object, write_json, write_text

STUDY_FILE = "study.json"
BEST_FILE = "best.yaml"
STATES = ("complete", "pruned", "failed", "running")


def _state(trial: Any) -> str:
    name = str(trial.state.name).lower()
    return "failed" if name == "fail" else name


def study_record(study: Any, objectives: list[str], fixed: list[str]) -> dict[str, Any]:
    """The study as plain data (what ``study.json`` holds)."""
    trials = [
        {
            "number": t.number,
            "state": _state(t),
            "interrupted": bool(t.system_attrs.get("gnnexp:interrupted")),
            "values": _finite(t.values),
            "params": t.params,
            "last_epoch": max(t.intermediate_values)
            if t.intermediate_values
            else _epochs_run(t.user_attrs.get("dir")),
            "dir": t.user_attrs.get("dir"),
            "duration_s": t.duration.total_seconds() if t.duration is not None else None,
        }
        for t in study.get_trials(deepcopy=False)
    ]
    counts = {state: sum(t["state"] == state for t in trials) for state in STATES}
    record: dict[str, Any] = {
        "study": study.study_name,
        "directions": [d.name.lower() for d in study.directions],
        "objectives": objectives,
        "fixed": fixed,
        "counts": counts,
        "trials": trials,
    }
    complete = [t for t in trials if t["state"] == "complete" and t["values"] is not None]
    if len(study.directions) == 1 and complete:
        sign = -1 if record["directions"][0] == "maximize" else 1
        record["best"] = min(complete, key=lambda t: (sign * t["values"][0], t["number"]))["number"]
    elif complete:
        finite = {t["number"] for t in complete}
        record["pareto_front"] = sorted(t.number for t in study.best_trials if t.number in finite)
    return record


def _finite(values: list[float] | None) -> list[float] | None:
    """A trial's values, or None where one is not a finite number (NaN, inf: nothing to rank
    or to write as JSON)."""
    if values is None or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def _epochs_run(run_dir: Any) -> int | None:
    """Epochs a trial ran, from its results.json (trials that report nothing: several objectives)."""
    value = (read_json_object(Path(str(run_dir)) / "results.json") or {}).get("epochs_run")
    return value if isinstance(value, int) else None


def retrain_command(fixed: list[str], params: dict[str, Any]) -> str:
    """The command that trains the given parameters once, as a plain run."""
    from gnnexp.search.space import SearchSpace

    overrides = SearchSpace(fixed=fixed).overrides(params)
    return shlex.join(["gnnexp", "train", *overrides, "hydra.mode=RUN"])


def write_outcome(sweep_dir: Path, record: dict[str, Any], test: dict[str, Any] | None = None) -> None:
    """study.json, and best.yaml when there is a best trial."""
    write_json(sweep_dir / STUDY_FILE, record)
    trials = {t["number"]: t for t in record["trials"]}
    best = trials.get(record.get("best", -1))
    if best is None:
        return
    from gnnexp.search.space import SearchSpace

    content = {
        "study": record["study"],
        "trial": best["number"],
        "value": best["values"][0],
        "objective": record["objectives"][0],
        "overrides": SearchSpace(fixed=record["fixed"]).overrides(best["params"]),
        "command": retrain_command(record["fixed"], best["params"]),
        "dir": best["dir"],
        # A metric that is not a finite number is written as null, which every reader takes.
        **({"test": {k: v if math.isfinite(v) else None for k, v in test.items()}} if test else {}),
    }
    write_text(sweep_dir / BEST_FILE, yaml.safe_dump(content, sort_keys=False, width=1000))


def refuse_plain_sweep(hydra: Any) -> None:
    """Refuse a sweep that is no search into a search's sweep directory: its jobs would mix
    with the trials, and its summary would be the study's (``hydra``: the hydra config)."""
    from gnnexp.errors import GnnexpError
    from gnnexp.search.studies import JOURNAL_FILE, LOCK_FILE

    if str(hydra.sweeper.get("_target_", "")).endswith("GnnexpOptunaSweeper"):
        return  # a search: its sweeper checks the directory
    sweep_dir = Path(str(hydra.sweep.dir))
    found = [name for name in (STUDY_FILE, JOURNAL_FILE, LOCK_FILE) if (sweep_dir / name).exists()]
    if found:
        raise GnnexpError(
            f"{sweep_dir} holds a search ({', '.join(found)}); a sweep there would mix its jobs with "
            "the search's trials.",
            "give the sweep its own hydra.sweep.dir (to resume the search, re-run the search's command).",
        )


def read_study(sweep_dir: Path) -> dict[str, Any] | None:
    """``study.json`` of a search's sweep directory; None when there is none (not a search).

    A damaged file is refused in one line rather than shown wrong."""
    from gnnexp.errors import DataError

    path = sweep_dir / STUDY_FILE
    if not path.is_file():
        return None
    damaged = DataError(
        f"{path} is damaged.", "re-run the search with the same hydra.sweep.dir to write it again."
    )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise damaged from None
    try:
        ok = isinstance(data["trials"], list) and isinstance(data["counts"], dict) and data["directions"]
        for t in data["trials"]:
            ok = (
                ok
                and isinstance(t["params"], dict)
                and isinstance(t["number"], int)
                and isinstance(t["state"], str)
            )
            ok = ok and (t["values"] is None or all(isinstance(v, (int, float)) for v in t["values"]))
            ok = ok and "interrupted" in t and "last_epoch" in t
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise damaged
    return data


def _short(value: Any, exact: bool = False) -> str:
    if isinstance(value, float) and not exact:
        return f"{value:.4g}"
    return str(value)


def _value(value: float | None, exact: bool = False) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))  # a parameter count, not 9996.0000
    return repr(value) if exact else f"{value:.4f}"


def ranked(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Complete trials best first (by the first objective), then pruned, then the rest."""
    sign = -1 if record["directions"][0] == "maximize" else 1

    def key(t: dict[str, Any]) -> tuple[int, float, int]:
        order = {"complete": 0, "pruned": 1}.get(t["state"], 2)
        value = t["values"][0] if order == 0 and t["values"] else 0.0
        return (order, sign * value, t["number"])

    return sorted(record["trials"], key=key)


def headline(record: dict[str, Any]) -> str:
    """ "study cora: 40 trials: 31 complete, 8 pruned, 1 failed"."""
    counts = record["counts"]
    parts = [f"{counts[s]} {s}" for s in STATES if counts.get(s)]
    interrupted = sum(t["interrupted"] for t in record["trials"])
    if interrupted:
        parts.append(f"{interrupted} of the failed interrupted, their places run again")
    n = len(record["trials"])
    return f"study {record['study']}: {n} trial{'' if n == 1 else 's'}" + (
        f": {', '.join(parts)}" if parts else ""
    )


def real_failures(record: dict[str, Any]) -> int:
    """Failed trials that are not interruptions (those a resumed sweep runs again)."""
    return sum(t["state"] == "failed" and not t["interrupted"] for t in record["trials"])


def study_rows(
    record: dict[str, Any], top: int = 10, exact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ``top`` trials: number, state, objective values, last reported
    epoch, and the sampled parameters (4 significant digits; ``exact``: as stored)."""
    names = sorted({name for t in record["trials"] for name in t["params"]})
    header = ["trial", "state", *record["objectives"], "epochs", *names]
    rows = []
    for t in ranked(record)[:top]:
        values = t["values"] or [None] * len(record["objectives"])
        rows.append([
            str(t["number"]), t["state"] + (" (interrupted)" if t["interrupted"] else ""),
            *(_value(v, exact) for v in values),
            "" if t["last_epoch"] is None else str(t["last_epoch"]),
            *(_short(t["params"].get(name, ""), exact) for name in names),
        ])  # fmt: skip
    return header, rows


def study_markdown(record: dict[str, Any], top: int = 10) -> str:
    header, rows = study_rows(record, top)
    lines = [headline(record), "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def print_study(record: dict[str, Any], console: Any, sweep_dir: Path, top: int = 10) -> None:
    """The study's headline, its best trials as a table, and where the best one is."""
    from rich.table import Table
    from rich.text import Text

    header, rows = study_rows(record, top)
    table = Table(title=headline(record), title_justify="left")
    for column in header:
        table.add_column(column, justify="left" if column == "state" else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))  # values as typed, not markup
    console.print(table)
    best = sweep_dir / BEST_FILE
    if best.is_file():
        try:
            content = yaml.safe_load(best.read_text()) or {}
        except yaml.YAMLError:
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("test") or {}, dict):
            console.print(
                f"{best} is damaged; the table above is from study.json.", highlight=False, markup=False
            )
            return
        test = ", ".join(
            f"{k} {v:.4f}" if isinstance(v, (int, float)) else f"{k} {v}"
            for k, v in (content.get("test") or {}).items()
            if k != "loss"
        )
        console.print(
            f"best: trial {content.get('trial')}" + (f" (test: {test})" if test else ""), highlight=False
        )
        console.print(f"re-train it: {content.get('command')}", soft_wrap=True, highlight=False, markup=False)
    if record.get("pareto_front"):
        console.print(f"pareto front: trials {', '.join(map(str, record['pareto_front']))}", highlight=False)
