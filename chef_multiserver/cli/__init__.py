"""``chef-multiserver``: the lifecycle command of a generated repository (add a server, store its
key, deploy the pipeline, check the fleet). ``main`` is the command line; one module per subcommand,
plus ``aws``, ``tls`` and ``repo`` for what they share."""
