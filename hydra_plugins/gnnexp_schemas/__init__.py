"""gnnexp's schemas as a Hydra config source (Hydra finds config sources inside hydra_plugins)."""
