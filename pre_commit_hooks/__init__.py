"""chef-multiserver-kit: pre-commit hooks and shared rules for a multi-server Chef repository."""

__version__ = "0.1.0"
