"""Datasets: a registry of sources, each turning a dataset config into graphs."""

from gnnexp.data.sources import SOURCES, GraphData, load_dataset, register_source

__all__ = ["SOURCES", "GraphData", "load_dataset", "register_source"]
