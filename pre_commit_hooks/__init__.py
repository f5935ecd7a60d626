"""The kit's pre-commit hooks: one module per hook, and the key detection only they use."""
