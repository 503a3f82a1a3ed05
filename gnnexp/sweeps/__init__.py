"""Sweeps and their summaries: the Hydra callbacks gnnexp installs, the live sweep view, and
mean ± std tables over a sweep's jobs."""
