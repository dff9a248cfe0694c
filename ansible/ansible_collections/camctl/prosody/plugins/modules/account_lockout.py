#!/usr/bin/python
# -*- coding: utf-8 -*-
# camctl user lockout / camctl user unlock on the managed host.
from __future__ import annotations

DOCUMENTATION = r"""
module: account_lockout
short_description: Lock a Prosody account out (with a reason), or unlock it
description:
  - I(state=locked) runs C(camctl user lockout <jid> --yes --json); every listed client is
    revoked completely, then every grant, FAST token and session the list does not show; then, by
    I(action), the account is disabled (C(--disable), with I(reason) stored as the incident record)
    or given the new password held in I(new_password_file) on the managed host.
  - I(state=unlocked) runs C(camctl user unlock <jid> --yes --json), which re-enables the account;
    what the lock-out revoked stays revoked.
  - C(changed) only when camctl reports that it did something (revoked, swept, disabled, set the
    password, enabled). Locking out a disabled account with nothing left, or unlocking an enabled
    one, changes nothing. Setting a new password always changes it.
  - Check mode runs camctl's C(--dry-run) (the clients a lock-out would revoke, the account's
    status); grants, tokens and sessions the list does not show are found only by a real run.
  - A lock-out that leaves something (camctl exit 9) fails the task with camctl's report.
version_added: 0.1.0
author: camctl contributors
options:
  jid:
    description:
      - The account, C(user@host).
    type: str
    required: true
  state:
    description:
      - C(locked) or C(unlocked).
    type: str
    choices: [locked, unlocked]
    default: locked
  action:
    description:
      - What follows the revocations when locking out. C(disable) the account; C(new-password) from
        I(new_password_file); C(none) only revokes (clients that sign in with the password keep
        it, with a warning; camctl exit 7).
    type: str
    choices: [disable, new-password, none]
    default: disable
  reason:
    description:
      - Why, stored with the disable and shown by camctl C(user clients) (camctl C(--reason); one
        line, at most 200 characters).
    type: str
  new_password_file:
    description:
      - With I(action=new-password), a file on the managed host holding only the new password,
        private to its owner (camctl C(--new-password-file)). The password is never on a command line.
    type: path
extends_documentation_fragment:
  - camctl.prosody.camctl
"""

EXAMPLES = r"""
- name: Lock a compromised account out
  camctl.prosody.account_lockout:
    jid: mallory@example.com
    reason: Phishing report 4711

- name: Let it back in once the incident is closed
  camctl.prosody.account_lockout:
    jid: mallory@example.com
    state: unlocked
"""

RETURN = r"""
lockout:
  description:
    - camctl's C(user lockout --json) document (C(results), C(summary), C(accountDisabled),
      C(alreadyDisabled), C(reason), C(passwordChanged), C(enabled), C(swept), C(failures), C(after),
      C(verified)); in check mode its dry run (C(before)).
  returned: with I(state=locked)
  type: dict
unlock:
  description:
    - camctl's C(user unlock --json) document (C(outcome) C(enabled) or C(already-enabled),
      C(wasDisabledReason), C(staysRevoked), ...); in check mode its dry run (C(accountStatus),
      C(disabledReason), C(disabledAt)).
  returned: with I(state=unlocked)
  type: dict
camctl_exit:
  description: camctl's exit status (the repository's docs/exit-codes.md). Not C(rc), which Ansible takes as failed when it is not 0.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.camctl.prosody.plugins.module_utils.camctl import (
    COMMON_ARGS, EXIT_OK, EXIT_PASSWORD_LEFT, acted, client_line, fail, lines, run, shown, warn,
)

ARGUMENT_SPEC = dict(
    jid=dict(type="str", required=True),
    state=dict(type="str", choices=["locked", "unlocked"], default="locked"),
    action=dict(type="str", choices=["disable", "new-password", "none"], default="disable"),
    reason=dict(type="str"),
    new_password_file=dict(type="path", no_log=False),
    **COMMON_ARGS,
)


def status_line(status, reason=None):
    return shown("account: %s%s" % (status, ", reason: %s" % reason if reason else ""))


def diff(before, after):
    return dict(before=lines(before), after=lines(after))


def lock(module):
    p = module.params
    args = ["user", "lockout", p["jid"], "--json"]
    if p["action"] == "disable":
        args.append("--disable")
    elif p["action"] == "new-password":
        args += ["--new-password-file", p["new_password_file"]]
    if p["reason"] is not None:
        args += ["--reason", p["reason"]]

    if module.check_mode:
        rc, doc, err = run(module, args + ["--dry-run"])
        if doc is None or rc != EXIT_OK:
            fail(module, rc, err, changed=False)
        listed = doc.get("before", [])
        before = [client_line(c, p["jid"]) for c in listed]
        if p["action"] == "disable":
            # Whether the account is disabled already is in the listing, not in the dry run.
            src, listing, serr = run(module, ["user", "clients", p["jid"], "--json"])
            if listing is None or src != EXIT_OK:
                fail(module, src, serr, changed=False)
            status = status_line(listing.get("accountStatus"), listing.get("disabledReason"))
            already = listing.get("accountStatus") == "disabled"
            after = [status if already else status_line("disabled", p["reason"])]
            before.insert(0, status)
        else:
            already, after = False, []
        changed = bool(listed) or p["action"] == "new-password" or (p["action"] == "disable" and not already)
        result = dict(changed=changed, camctl_exit=rc, lockout=doc)
        if module._diff:
            result["diff"] = diff(before, after)
        module.exit_json(**result)

    rc, doc, err = run(module, args + ["--yes"])
    if doc is None:
        fail(module, rc, err, changed=False)
    swept = doc.get("swept") or {}
    changed = (
        any(acted(r.get("done")) for r in doc.get("results", []))
        or any(isinstance(n, int) and n > 0 for n in swept.values())
        or (doc.get("accountDisabled") is True and doc.get("alreadyDisabled") is not True)
        or doc.get("passwordChanged") is True
    )
    result = dict(changed=changed, camctl_exit=rc, lockout=doc)
    if rc == EXIT_PASSWORD_LEFT:
        warn(module, err)
    elif rc != EXIT_OK:
        # 9: something could not be done or is still there; the document says what.
        fail(module, rc, err, **result)
    module.exit_json(**result)


def unlock(module):
    p = module.params
    if p["reason"] is not None or p["new_password_file"] is not None:
        module.fail_json(msg="reason and new_password_file go with state=locked; unlocking keeps the recorded reason as it is.")
    rc, doc, err = run(module, ["user", "unlock", p["jid"], "--json"] + (["--dry-run"] if module.check_mode else ["--yes"]))
    if doc is None or rc != EXIT_OK:
        fail(module, rc, err, changed=False)
    if module.check_mode:
        was, reason = doc.get("accountStatus"), doc.get("disabledReason")
        changed = was == "disabled"
    else:
        changed = doc.get("outcome") == "enabled"
        was, reason = ("disabled", doc.get("wasDisabledReason")) if changed else ("enabled", None)
    result = dict(changed=changed, camctl_exit=rc, unlock=doc)
    if module._diff:
        result["diff"] = diff([status_line(was, reason)], [status_line("enabled")])
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("action", "new-password", ["new_password_file"])],
    )
    if module.params["state"] == "locked":
        lock(module)
    else:
        unlock(module)


if __name__ == "__main__":
    main()
