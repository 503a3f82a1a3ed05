"""What a run leaves behind: console tables, metrics.csv, results.json."""
