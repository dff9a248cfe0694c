#!/usr/bin/python
# -*- coding: utf-8 -*-
# camctl user clients / camctl host clients on the managed host, as task data.
from __future__ import annotations

DOCUMENTATION = r"""
module: client_info
short_description: List what has access to one Prosody account or to every account of a host
description:
  - With I(jid), runs C(camctl user clients <jid> --json) and returns the account's clients
    and its status.
  - With I(host), runs C(camctl host clients <host> -o json) with the same filters as that
    command and returns every matching record (each with its C(account)), or counts with I(summary).
  - Changes nothing; runs in check mode too.
version_added: 0.1.0
author: camctl contributors
options:
  jid:
    description:
      - One account, C(user@host). Mutually exclusive with I(host); takes no filters.
    type: str
  summary:
    description:
      - With I(host), counts instead of records (camctl C(--summary)).
    type: bool
    default: false
extends_documentation_fragment:
  - camctl.prosody.camctl
  - camctl.prosody.camctl.filters
"""

EXAMPLES = r"""
- name: Every account that lets Evil Client in
  camctl.prosody.client_info:
    host: example.com
    software: Evil Client
  register: exposed

- name: One account's clients and status
  camctl.prosody.client_info:
    jid: alice@example.com
  register: alice
"""

RETURN = r"""
clients:
  description: camctl's client records (docs/output-formats.md); host records start with C(account).
  returned: unless I(summary)
  type: list
  elements: dict
account:
  description: With I(jid), the account's own fields (C(accountStatus), C(disabledReason), C(disabledAt), C(passwordChanged), C(accountLastActivity)).
  returned: with I(jid)
  type: dict
summary:
  description: With I(summary), camctl's counts (C(accounts), C(clients), C(connected), C(bySoftware), ...).
  returned: with I(summary)
  type: dict
transport:
  description: How camctl reached the server (C(socket)).
  returned: success
  type: str
camctl_exit:
  description: camctl's exit status (the repository's docs/exit-codes.md). Not C(rc), which Ansible takes as failed when it is not 0.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.camctl.prosody.plugins.module_utils.camctl import (
    COMMON_ARGS, EXIT_OK, EXIT_PARTLY, FILTER_ARGS, fail, filter_args, run,
)

ARGUMENT_SPEC = dict(
    jid=dict(type="str"),
    host=dict(type="str"),
    summary=dict(type="bool", default=False),
    **FILTER_ARGS,
    **COMMON_ARGS,
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_one_of=[("jid", "host")],
        mutually_exclusive=[("jid", "host")],
    )
    p = module.params
    filters = filter_args(p)
    if p["jid"]:
        if filters or p["summary"]:
            module.fail_json(msg="The filters and summary select clients of a host: give host instead of jid (account: takes a glob of accounts).")
        args = ["user", "clients", p["jid"], "--json"]
    else:
        args = ["host", "clients", p["host"]] + filters + (["--summary"] if p["summary"] else []) + ["-o", "json"]
    rc, doc, err = run(module, args)
    if doc is None or rc not in (EXIT_OK, EXIT_PARTLY):
        fail(module, rc, err, changed=False)
    result = dict(changed=False, camctl_exit=rc, transport=doc.get("transport"))
    if "summary" in doc:
        result["summary"] = doc["summary"]
    else:
        result["clients"] = doc.get("clients", [])
    if p["jid"]:
        result["account"] = dict((k, v) for k, v in doc.items() if k not in ("jid", "transport", "clients"))
    if rc == EXIT_PARTLY:
        # Some accounts could not be read: what was read is returned, and the task fails.
        fail(module, rc, err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
