"""The readers of the generated dataset sources (synthetic, synthetic_graphs)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from gnnexp.data.loading import GraphData, _graph_level, node_level
from gnnexp.errors import ConfigError
from gnnexp.util.memory import check_fits


def synthetic(cfg: DictConfig, data_dir: Path) -> GraphData:
    """A planted-partition graph generated from ``cfg.data_seed``; ``data_dir`` is unused."""
    from gnnexp.data.synthetic import node_regression_target, planted_partition

    if cfg.num_classes > cfg.num_nodes:
        raise ConfigError(
            f"dataset.num_classes={cfg.num_classes} exceeds dataset.num_nodes={cfg.num_nodes}: "
            "some classes would have no node.",
            "use at most as many classes as nodes.",
        )
    if cfg.avg_degree > cfg.num_nodes - 1:  # edges are drawn without repeats
        raise ConfigError(
            f"dataset.avg_degree={cfg.avg_degree:g} is above dataset.num_nodes - 1 = {cfg.num_nodes - 1}: "
            "no simple graph has it.",
            "lower dataset.avg_degree (or raise dataset.num_nodes).",
        )
    # Features (drawn, then shifted) and about six int64/float draws per edge while generating.
    check_fits(
        cfg.num_nodes * (8.0 * cfg.num_features + 48.0 * cfg.avg_degree),
        f"dataset=synthetic with {cfg.num_nodes:,} nodes of {cfg.num_features:,} features",
        "lower dataset.num_nodes, dataset.num_features or dataset.avg_degree.",
    )
    graph = planted_partition(
        num_nodes=cfg.num_nodes,
        num_classes=cfg.num_classes,
        num_features=cfg.num_features,
        avg_degree=cfg.avg_degree,
        homophily=cfg.homophily,
        feature_signal=cfg.feature_signal,
        seed=cfg.data_seed,
    )
    if cfg.target == "regression":
        graph.y = node_regression_target(graph, cfg.data_seed)
    return node_level(cfg, graph, cfg.num_features)


def synthetic_graphs(cfg: DictConfig, data_dir: Path) -> GraphData:
    """Random graphs labelled by their density; ``data_dir`` is unused."""
    from gnnexp.data.synthetic import random_graphs

    if cfg.max_nodes < cfg.min_nodes:
        raise ConfigError(
            f"dataset.max_nodes={cfg.max_nodes} is below dataset.min_nodes={cfg.min_nodes}.",
            "make max_nodes >= min_nodes.",
        )
    # Each graph's features and edges, kept; its dense n x n draw, passing.
    check_fits(
        cfg.num_graphs * cfg.max_nodes * (4.0 * cfg.num_features + 8.0 * cfg.max_nodes)
        + 5.0 * cfg.max_nodes**2,
        f"dataset=synthetic_graphs with {cfg.num_graphs:,} graphs of up to {cfg.max_nodes:,} nodes",
        "lower dataset.num_graphs, dataset.max_nodes or dataset.num_features.",
    )
    graphs = random_graphs(
        cfg.num_graphs,
        cfg.min_nodes,
        cfg.max_nodes,
        cfg.num_features,
        regression=cfg.target == "regression",
        seed=cfg.data_seed,
    )
    return _graph_level(cfg, graphs)
