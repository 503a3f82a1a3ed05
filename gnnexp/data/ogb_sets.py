"""OGB graph datasets (``ogbg-*``) through the ``ogb`` package: official split and Evaluator.

The ``ogb`` package builds the PyG dataset from its raw files (downloading them with
internet) and gives the official split; its ``Evaluator`` scores the run's metric, so the
numbers are the ones OGB's leaderboards use. Atoms and bonds carry OGB's categorical
features, one-hot encoded over OGB's vocabularies (``get_atom_feature_dims``), so a first
linear layer on them is exactly OGB's ``AtomEncoder``/``BondEncoder``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from gnnexp.data.molecules import one_hot
from gnnexp.data.sources import GraphData
from gnnexp.errors import DataError, GnnexpError

# OGB's names of its metrics -> gnnexp's.
METRIC_NAMES = {"rocauc": "roc_auc", "ap": "ap", "rmse": "rmse", "mae": "mae", "acc": "accuracy"}


def load_ogbg(cfg: DictConfig, data_dir: Path) -> GraphData:
    """An ``ogbg-*`` dataset from ``<data_dir>/ogb`` (downloaded there when missing)."""
    try:
        from ogb.graphproppred import Evaluator, PygGraphPropPredDataset
        from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims
    except ImportError:
        raise GnnexpError(
            f"dataset={cfg.name} needs the ogb package.", "pip install 'gnnexp[ogb]'."
        ) from None
    import torch_geometric.data.data as pyg_data
    import torch_geometric.data.storage as pyg_storage

    name = str(cfg.ogb_name)
    root = data_dir / "ogb"
    folder = root / name.replace("-", "_")
    if folder.is_dir() and not list(folder.glob("RELEASE_v*.txt")):
        # ogb would stop and ask on the terminal whether to download it again.
        raise DataError(
            f"{folder} is not a complete OGB dataset (no RELEASE_v*.txt).", f"remove {folder} and run again."
        )
    chatter = io.StringIO()  # ogb prints its progress bars and "Loading necessary files..."
    try:
        # ogb loads its processed file with torch.load, whose weights-only mode must be told
        # about PyG's storage classes (plain data, no code).
        safe = [pyg_data.DataEdgeAttr, pyg_data.DataTensorAttr, pyg_storage.GlobalStorage]
        with (
            torch.serialization.safe_globals(safe),
            contextlib.redirect_stdout(chatter),
            contextlib.redirect_stderr(chatter),
            warnings.catch_warnings(),
        ):
            # ogb's processing hands torch read-only NumPy arrays: a note for ogb, not for you.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            dataset = PygGraphPropPredDataset(name, root=str(root))
            split = dataset.get_idx_split()
    except Exception as err:  # a failed download, damaged files
        raise DataError(
            f"Cannot load {name} into {root} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}).",
            f"with internet ogb downloads it; offline, put OGB's files under {folder}.",
        ) from err
    regression = cfg.target == "regression"
    # Several binary tasks with gaps (tox21, molpcba): a float row per graph for task.loss=bce.
    multilabel = not regression and dataset.num_tasks > 1
    atoms, bonds = list(get_atom_feature_dims()), list(get_bond_feature_dims())
    graphs = []
    for graph in dataset:
        y = graph.y.view(1, -1)
        graphs.append(
            pyg_data.Data(
                x=one_hot(graph.x, atoms),
                edge_index=graph.edge_index,
                edge_attr=one_hot(graph.edge_attr, bonds),
                y=y.float() if regression or multilabel else y.view(-1)[:1].long(),
            )
        )
    evaluator = Evaluator(name)
    metric = METRIC_NAMES.get(evaluator.eval_metric)
    if metric is None or (regression and dataset.num_tasks != 1):
        raise DataError(
            f"{name} ({dataset.num_tasks} tasks, {evaluator.eval_metric}) is not supported yet.",
            "use ogbg-molhiv, ogbg-moltox21, ogbg-molpcba, ogbg-molesol, ogbg-molfreesolv or ogbg-mollipo.",
        )

    def official(pred: torch.Tensor, target: torch.Tensor) -> float:
        """The run's metric as OGB's Evaluator computes it."""
        scores = pred.view(pred.size(0), -1)
        if not regression and not multilabel:  # two-class logits -> the positive class's margin
            scores = (scores[:, 1] - scores[:, 0]).view(-1, 1)
        truth = target.float().view(scores.shape)  # missing labels stay NaN: the Evaluator skips them
        result: dict[str, Any] = evaluator.eval({"y_true": truth, "y_pred": scores.float()})
        return float(result[evaluator.eval_metric])

    return GraphData(
        str(cfg.name),
        "graph",
        graphs,
        sum(atoms),
        dataset.num_tasks if regression or multilabel else 2,
        sum(bonds),
        split={"train": split["train"], "val": split["valid"], "test": split["test"]},
        scorer=(metric, official),
        notes={"split": f"OGB's official split; {metric} by ogb's Evaluator"},
    )
