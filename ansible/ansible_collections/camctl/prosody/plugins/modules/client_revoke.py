#!/usr/bin/python
# -*- coding: utf-8 -*-
# camctl user revoke_client (a selector) or camctl host revoke + host apply (filters) on the
# managed host. Check mode is camctl's own dry run; a real run applies the plan camctl wrote.
from __future__ import annotations

DOCUMENTATION = r"""
module: client_revoke
short_description: Revoke what a selector or host-wide filters match on a Prosody server
description:
  - With I(jid) and I(selector), runs C(camctl user revoke_client <jid> <selector> --json);
    the one client the selector names loses its sessions, FAST tokens and grant.
  - With I(host) and the filters of M(camctl.prosody.client_info) (or I(all)), camctl plans
    (C(host revoke --plan-out)) and applies exactly that plan (C(host apply --yes -o json)); each
    item is revoked by its id.
  - B(Check mode) is camctl's dry run (C(--dry-run)); it reports exactly what would be revoked
    (C(plan)) and revokes nothing.
  - B(Diff mode) shows the plan, one line per client (account, id, software on device), as
    before, and what is still listed afterwards as after.
  - C(changed) only when camctl reports that it revoked something (an item's C(done)); a second
    run finds nothing left and changes nothing.
  - A run that is only partly done (camctl exit 9, or exit 3 once revoking started) fails the
    task, with each item's outcome in C(results).
  - Clients that can only come back with their account's password are reported in
    C(password_access) with a warning (camctl exit 7; M(camctl.prosody.account_lockout) ends that).
version_added: 0.1.0
author: camctl contributors
options:
  jid:
    description:
      - The account of I(selector); mutually exclusive with I(host).
    type: str
  selector:
    description:
      - C(client/<id>), C(grant/<id>) or C(software/<name>[/<version>]). A C(software/) selector
        names one client (the first match, as Prosody's own revoke_client); the other matches are
        returned in C(other_matches) and left alone. To revoke every match use I(host) and I(software).
    type: str
  all:
    description:
      - With I(host), every client of every account (instead of filters), camctl C(--all).
    type: bool
    default: false
  keep_newest:
    description:
      - With I(host), per account keep the n most recently seen matching clients out of the plan.
    type: int
extends_documentation_fragment:
  - camctl.prosody.camctl
  - camctl.prosody.camctl.filters
"""

EXAMPLES = r"""
- name: Revoke a compromised app on every account (try it with --check --diff first)
  camctl.prosody.client_revoke:
    host: example.com
    software: Evil Client

- name: Prune clients not seen for a year, keeping each account's newest
  camctl.prosody.client_revoke:
    host: example.com
    last_seen_before: 365d
    keep_newest: 1

- name: Revoke one grant
  camctl.prosody.client_revoke:
    jid: alice@example.com
    selector: grant/HAdlvyQu1mVe
"""

RETURN = r"""
plan:
  description: What the selector or the filters matched, camctl's client records (host records with C(account)); in check mode, what would be revoked.
  returned: always
  type: list
  elements: dict
results:
  description:
    - Each item's outcome as camctl reports it, C({account, id, outcome, reason, done}); C(outcome) is
      C(revoked), C(password-reset-required), C(gone), C(changed) or C(failed) (for a selector also
      C(partly-revoked) or C(no-match)).
  returned: when not in check mode
  type: list
  elements: dict
summary:
  description: camctl's tally (C(items), C(revoked), C(passwordResetRequired), C(gone), C(changed), C(failed), C(acted)).
  returned: with I(host), when not in check mode and something matched
  type: dict
password_access:
  description: Items that can still sign in with their account's password (outcome C(password-reset-required)).
  returned: when not in check mode
  type: list
  elements: dict
other_matches:
  description: Ids of further C(software/) matches that were not revoked.
  returned: with I(selector)
  type: list
  elements: str
camctl_exit:
  description: camctl's exit status (the repository's docs/exit-codes.md). Not C(rc), which Ansible takes as failed when it is not 0.
  returned: always
  type: int
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.camctl.prosody.plugins.module_utils.camctl import (
    COMMON_ARGS, EXIT_NOT_FOUND, EXIT_OK, EXIT_PASSWORD_LEFT, FILTER_ARGS,
    acted, client_line, fail, filter_args, lines, run, warn,
)

ARGUMENT_SPEC = dict(
    jid=dict(type="str"),
    selector=dict(type="str"),
    host=dict(type="str"),
    all=dict(type="bool", default=False),
    keep_newest=dict(type="int"),
    **FILTER_ARGS,
    **COMMON_ARGS,
)

# Outcomes after which the item no longer has access, so it leaves the diff's "after".
NO_ACCESS_LEFT = ("revoked", "gone")


def diff(before, after):
    return dict(before_header="listed before", after_header="listed after", before=lines(before), after=lines(after))


def by_selector(module):
    p = module.params
    if filter_args(p) or p["all"] or p["keep_newest"] is not None:
        module.fail_json(msg="The filters, all and keep_newest select clients of a host: give host instead of jid and selector.")
    rc, doc, err = run(module, ["user", "revoke-client", p["jid"], p["selector"], "--json"] + (["--dry-run"] if module.check_mode else ["--yes"]))
    if doc is None:
        # No outcome record: bad input, no such account, server unreachable (camctl's sentence says which).
        fail(module, rc, err, changed=False)
    outcome = doc.get("outcome")
    plan = [doc["client"]] if doc.get("client") else []
    result = dict(camctl_exit=rc, plan=plan, other_matches=doc.get("otherMatches") or [])
    if not module.check_mode:
        result["results"] = [dict(account=doc.get("jid"), id=doc.get("id"), outcome=outcome, done=doc.get("done"))]
        result["password_access"] = [r for r in result["results"] if outcome == "password-reset-required"]
    if outcome == "dry-run":
        result["changed"] = True
    elif rc == EXIT_NOT_FOUND and outcome in ("no-match", "gone"):
        # Nothing (left) to revoke: the state the task asks for.
        result["changed"] = False
    elif rc in (EXIT_OK, EXIT_PASSWORD_LEFT):
        result["changed"] = acted(doc.get("done"))
        if rc == EXIT_PASSWORD_LEFT:
            warn(module, err)
    else:
        fail(module, rc, err, changed=acted(doc.get("done")), **result)
    if result["other_matches"]:
        module.warn("%d more clients match %s and were left alone; to revoke every match, use host with software." % (len(result["other_matches"]), p["selector"]))
    if module._diff:
        before = [client_line(c, doc.get("jid")) for c in plan]
        left = [client_line(doc["after"], doc.get("jid"))] if doc.get("after") else []
        result["diff"] = diff(before, [] if module.check_mode else left)
    module.exit_json(**result)


def by_filters(module):
    p = module.params
    if p["selector"]:
        module.fail_json(msg="selector names a client of one account: give jid with it, not host.")
    select = ["host", "revoke", p["host"]] + filter_args(p) + (["--all"] if p["all"] else [])
    if p["keep_newest"] is not None:
        select += ["--keep-newest", str(p["keep_newest"])]

    if module.check_mode:
        rc, doc, err = run(module, select + ["--dry-run", "-o", "json"])
        if doc is None or rc != EXIT_OK:
            fail(module, rc, err, changed=False, plan=(doc or {}).get("clients", []))
        plan = doc.get("clients", [])
        result = dict(changed=bool(plan), camctl_exit=rc, plan=plan)
        if module._diff:
            result["diff"] = diff([client_line(c) for c in plan], [])
        module.exit_json(**result)

    # The plan file lives in the module's private temporary directory (removed with it), which
    # is what camctl asks of a plan: the user's own, mode 0600, never replaced.
    plan_file = os.path.join(module.tmpdir, "plan.json")
    rc, _, err = run(module, select + ["--plan-out", plan_file], json_out=False)
    if rc != EXIT_OK:
        fail(module, rc, err, changed=False, plan=[])
    if not os.path.exists(plan_file):
        # camctl writes no plan when nothing matches.
        module.exit_json(changed=False, camctl_exit=rc, plan=[], results=[], password_access=[], **({"diff": diff([], [])} if module._diff else {}))
    with open(plan_file, encoding="utf-8") as f:
        items = json.load(f)["items"]
    plan = [dict(account=i["account"], **i["entry"]) for i in items]

    rc, doc, err = run(module, ["host", "apply", plan_file, "--yes", "-o", "json"])
    doc = doc or {}
    results = doc.get("results", [])
    result = dict(
        camctl_exit=rc,
        plan=plan,
        results=results,
        password_access=[r for r in results if r.get("outcome") == "password-reset-required"],
        changed=any(acted(r.get("done")) for r in results),
    )
    if "summary" in doc:
        result["summary"] = doc["summary"]
    if module._diff:
        outcomes = dict(((r.get("account"), r.get("id")), r.get("outcome")) for r in results)
        result["diff"] = diff(
            [client_line(c) for c in plan],
            [client_line(c) for c in plan if outcomes.get((c["account"], c["id"])) not in NO_ACCESS_LEFT],
        )
    if rc == EXIT_PASSWORD_LEFT:
        warn(module, err)
    elif rc != EXIT_OK:
        # 9: some items failed; 3: the run stopped (applying the task again finishes it).
        fail(module, rc, err, **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_one_of=[("jid", "host")],
        mutually_exclusive=[("jid", "host")],
        required_together=[("jid", "selector")],
    )
    if module.params["jid"]:
        by_selector(module)
    else:
        by_filters(module)


if __name__ == "__main__":
    main()
