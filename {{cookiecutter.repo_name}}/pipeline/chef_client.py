"""The Lambda that runs chef-client on each server's nodes (the pipeline work fills it in)."""
