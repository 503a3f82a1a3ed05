"""Small utilities every layer may use: atomic files, run-directory locks, ranks, seeds, devices."""
