"""The pipeline's Lambda: runs chef-client on each server's nodes (filled in by the pipeline work)."""
