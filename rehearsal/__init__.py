"""Rehearse the kit without AWS or a Chef server: generate a repository, serve moto, run the
buildspec with stand-ins. Shared by the tests and the benchmarks; not part of the distribution."""
