"""The training loop and what it steps: optimizer, LR schedule, early stopping."""
