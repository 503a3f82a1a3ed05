"""Datasets: a registry of sources, each turning a dataset config into graphs.

``load_dataset`` imports every module of this package first, so a new source is one module
with a ``@register_source`` function (plus its YAML file).
"""

from gnnexp.data.sources import SOURCES, GraphData, load_dataset, register_source

__all__ = ["SOURCES", "GraphData", "load_dataset", "register_source"]
