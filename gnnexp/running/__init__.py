"""Running one run: the builder (experiment), one fit (fit), folds (crossval), the run with its
results.json (run), resume and predictions.

Three levels, three names: a *run* owns an output directory and its results.json and holds one
fit, or one per fold; a *fit* trains one experiment with its side effects as callbacks and
tests it; the epoch *loop* itself is ``gnnexp.training.loop.fit``.
"""
