"""chef-multiserver-kit: the server rules, the repository readers, the generator, the pipeline
targets and the ``chef-multiserver`` command line; the hooks live in ``pre_commit_hooks``."""

__version__ = "0.1.0"
