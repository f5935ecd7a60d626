"""Loaded by Python at start-up in a rehearsed build, whose PYTHONPATH holds this folder: the Chef
servers' host names resolve to 127.0.0.1, as an /etc/hosts line would make them, so the build
reaches the Chef server doubles by the names in its config.yml files (rehearsal/chef_build.py).
REHEARSAL_HOSTS: a JSON list of those host names. Nothing else changes: TLS still verifies each
name against .chef/ca_certs/."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

_HOSTS = frozenset(json.loads(os.environ.get("REHEARSAL_HOSTS", "[]")))
_getaddrinfo = socket.getaddrinfo


def _resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
    return _getaddrinfo("127.0.0.1" if host in _HOSTS else host, *args, **kwargs)


if _HOSTS:
    socket.getaddrinfo = _resolve
