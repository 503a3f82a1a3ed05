"""The ``gnnexp`` subcommands, one module each (imported only when called)."""
