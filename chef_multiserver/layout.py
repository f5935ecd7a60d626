"""Where things are in a generated chef repository: the names every part of the kit agrees on.

A module of its own, with no imports, so that ``forbid-chef-secrets`` can name ``.chef/`` paths
without loading the server rules (``servers`` reads its schema when imported).
"""

CHEF_DIR = ".chef"
CONFIG_FILE = "config.yml"
KEY_FILE = "private.pem"
CA_CERTS_DIR = "ca_certs"
KNIFE_RB = f"{CHEF_DIR}/knife.rb"  # what marks a repository's root
