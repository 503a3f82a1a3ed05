"""Hyperparameter search with Optuna: the search space, the workers, what a study leaves behind."""
