# -*- coding: utf-8 -*-
# The options every module of the collection takes (declared in module_utils/camctl.py).
from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  camctl_path:
    description:
      - The camctl program on the managed host, a path or a name looked up on C(PATH).
      - The I(install) role of this collection puts it in C(/usr/local/bin/camctl).
    type: str
    default: camctl
  socket:
    description:
      - Prosody's admin socket (camctl C(--socket)). Default C($CAMCTL_SOCKET), else
        C(/var/lib/prosody/prosody.sock); with I(container), the path inside the container.
      - Needs root, the prosody user or the prosody group on the managed host (C(become)).
    type: path
  container:
    description:
      - Reach the admin socket inside this container (camctl C(--container)).
    type: str
  container_engine:
    description:
      - C(docker) or C(podman) (camctl C(--container-engine)); default the one installed.
    type: str
  context:
    description:
      - A named server of camctl's config file on the managed host (camctl C(--context)).
    type: str
  timeout:
    description:
      - camctl C(--timeout) in seconds (its default 15; per batch or per item for host-wide work).
    type: float
requirements:
  - camctl on the managed host (Node.js 20.10 or later); see the I(install) role.
notes:
  - The modules run camctl with C(--json) or C(-o json) and act on its documented JSON and exit
    codes only (the repository's docs/exit-codes.md and docs/output-formats.md).
"""

    FILTERS = r"""
options:
  host:
    description:
      - A virtual host of the server; with the filters, selects clients of every account on it
        (camctl C(host clients) / C(host revoke)).
    type: str
  account:
    description:
      - Filter C(--account), a glob on the localpart, or on the whole JID when it has an C(@).
    type: str
  software:
    description:
      - Filter C(--software), C(name) or C(name/version), case-insensitive, C(*) and C(?) as
        wildcards.
    type: str
  software_exact:
    description:
      - Filter C(--software-exact), C(name) or C(name/version), matched exactly (case and all).
    type: str
  auth:
    description:
      - Filter C(--auth), C(password), C(grant) or C(fast); several match any of them.
    type: list
    elements: str
  type:
    description:
      - Filter C(--type), C(session) or C(access).
    type: str
  connected:
    description:
      - Filter C(--connected) (true) or C(--disconnected) (false); unset for either.
    type: bool
  last_seen_before:
    description:
      - Filter C(--last-seen-before), a duration back from now (C(90d)) or an ISO 8601 date.
    type: str
  last_seen_after:
    description:
      - Filter C(--last-seen-after).
    type: str
  account_inactive_since:
    description:
      - Filter C(--account-inactive-since).
    type: str
  expires_before:
    description:
      - Filter C(--expires-before), a duration ahead of now or an ISO 8601 date.
    type: str
  no_expiry:
    description:
      - Filter C(--no-expiry), grants that never expire.
    type: bool
    default: false
"""
