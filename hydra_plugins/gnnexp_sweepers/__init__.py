"""gnnexp's Hydra plugins (Hydra finds sweepers only inside the hydra_plugins package)."""
