"""Config schemas, validation and error explanations (no torch imports here)."""
