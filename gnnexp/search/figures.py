"""Optuna's own matplotlib figures of a search, as PNG in its sweep directory: optimisation
history, parameter importances, intermediate values (where trials were pruned) and, with
several objectives, the Pareto front."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

FIGURES = {
    "optuna_history.png": "plot_optimization_history",
    "optuna_importances.png": "plot_param_importances",
    "optuna_intermediate.png": "plot_intermediate_values",
}
PARETO_FIGURE = "optuna_pareto_front.png"


def draw_figures(study: Any, sweep_dir: Path) -> list[Path]:
    """Optuna's matplotlib figures of ``study`` as PNG; a figure the study cannot have yet
    (too few finished trials, nothing reported) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    names = dict(FIGURES)
    multi = len(study.directions) > 1
    if multi:
        names = {PARETO_FIGURE: "plot_pareto_front", "optuna_importances.png": "plot_param_importances"}
    written = []
    for file, function in names.items():
        kwargs: dict[str, Any] = {}
        try:
            if function == "plot_param_importances":
                kwargs["evaluator"] = _ped_anova()
                if multi:
                    kwargs["target"] = lambda t: t.values[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna's "experimental" notices
                axes = getattr(plots, function)(study, **kwargs)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
                figure.set_size_inches(8, 5)
                figure.tight_layout()
                figure.savefig(sweep_dir / file, dpi=100)
                plt.close(figure)
        except Exception:  # too few trials for it, or a plotting problem: never fails the search
            continue
        written.append(sweep_dir / file)
    return written


def _ped_anova() -> Any:
    """Optuna's PED-ANOVA importance evaluator (its default from Optuna 5; fANOVA before,
    which needs scikit-learn, not in the [optuna] extra).

    ``optuna.importance`` imports scikit-learn for fANOVA whenever it is installed, about
    0.7 s that every search would pay at its end for nothing: it is kept out of that import
    (fANOVA then stays unavailable in this process, which draws the figures last).
    """
    if "optuna.importance" not in sys.modules and "sklearn" not in sys.modules:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # "import sklearn" fails
        try:
            import optuna.importance  # noqa: F401
        finally:
            del sys.modules["sklearn"]
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator()
