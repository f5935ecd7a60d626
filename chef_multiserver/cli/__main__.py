"""``python -m chef_multiserver.cli``: the same as the ``chef-multiserver`` command."""

from chef_multiserver.cli.main import main

raise SystemExit(main())
