"""``python -m pre_commit_hooks.cli``: the same as the ``chef-multiserver`` command."""

from pre_commit_hooks.cli.main import main

raise SystemExit(main())
