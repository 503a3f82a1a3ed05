"""gnnexp: config-driven experiments for graph neural networks."""

__version__ = "0.1.0"

# Declares the built-in components (models, datasets, tasks, ...): the config layer asks
# gnnexp.config.components which exist without importing their modules, which sit above it.
from gnnexp import registry  # noqa: F401
