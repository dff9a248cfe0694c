# -*- coding: utf-8 -*-
# What the modules of camctl.prosody share: the options that choose camctl and the server, and
# the host-wide filters (declared once here, documented once in doc_fragments/camctl.py), running
# camctl with them, and reading its JSON. The modules decide nothing camctl decides already: they
# pass options through, and turn camctl's documented JSON and exit codes (docs/exit-codes.md)
# into changed/failed.
from __future__ import annotations

import json
import unicodedata

COMMON_ARGS = dict(
    camctl_path=dict(type="str", default="camctl"),
    socket=dict(type="path"),
    container=dict(type="str"),
    container_engine=dict(type="str"),
    context=dict(type="str"),
    timeout=dict(type="float"),
)

# Each filter becomes the camctl flag of the same name (underscores as dashes); camctl checks
# the values, so a bad one fails with camctl's own sentence.
FILTER_ARGS = dict(
    account=dict(type="str"),
    software=dict(type="str"),
    software_exact=dict(type="str"),
    auth=dict(type="list", elements="str"),
    type=dict(type="str"),
    connected=dict(type="bool"),
    last_seen_before=dict(type="str"),
    last_seen_after=dict(type="str"),
    account_inactive_since=dict(type="str"),
    expires_before=dict(type="str"),
    no_expiry=dict(type="bool", default=False),
)

# camctl's exit codes (docs/exit-codes.md) that the modules act on.
EXIT_OK = 0
EXIT_NOT_FOUND = 6
EXIT_PASSWORD_LEFT = 7
EXIT_PARTLY = 9


def flag(name):
    return "--" + name.replace("_", "-")


def filter_args(params):
    """The camctl flags for the filters that are set."""
    args = []
    for name in FILTER_ARGS:
        value = params.get(name)
        if name == "connected":
            if value is not None:
                args.append("--connected" if value else "--disconnected")
        elif value is True:
            args.append(flag(name))
        elif isinstance(value, list):
            for v in value:
                args += [flag(name), v]
        elif value not in (None, False):
            args += [flag(name), value]
    return args


def run(module, args, json_out=True):
    """Runs camctl with `args` and the server options; returns (rc, parsed stdout or None, stderr)."""
    p = module.params
    exe = p["camctl_path"]
    if "/" not in exe:
        exe = module.get_bin_path(exe, required=True)
    argv = [exe] + list(args)
    for name in ("socket", "container", "container_engine", "context"):
        if p.get(name) is not None:
            argv += [flag(name), p[name]]
    if p.get("timeout") is not None:
        argv += ["--timeout", repr(p["timeout"])]
    # A list, never a shell; no $VAR or ~ expansion (a reason or a glob is taken as written).
    rc, out, err = module.run_command(argv, expand_user_and_vars=False, environ_update={"NO_COLOR": "1", "LC_ALL": "C.UTF-8"})
    doc = None
    if json_out and out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            module.fail_json(msg="camctl's output was not the JSON it documents: %s" % shown(out[:200]), camctl_exit=rc)
    return rc, doc, err


def fail(module, rc, err, **result):
    """Fails the task with camctl's own sentence (camctl makes its stderr safe to show)."""
    result["camctl_exit"] = rc
    module.fail_json(msg=err.strip() or "camctl exited with status %d" % rc, **result)


def warn(module, err):
    """camctl's sentence about what is left (exit 7) as a task warning."""
    if err.strip():
        module.warn(err.strip())


def acted(done):
    """Whether a camctl outcome record's `done` says this run revoked something."""
    return isinstance(done, dict) and any(v is True for v in done.values())


def shown(text):
    """Text from clients made safe for a terminal: controls and format characters as escapes.

    Ansible prints a diff raw, and client names are chosen by whoever holds the credentials.
    """
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or ch == "\\":
            code = ord(ch)
            out.append("\\\\" if ch == "\\" else "\\x%02x" % code if code < 0x100 else "\\u%04x" % code)
        else:
            out.append(ch)
    return "".join(out)


def client_line(record, account=None):
    """One line for a diff: account, id, and software on device as camctl lists them."""
    agent = record.get("userAgent") or {}
    what = agent.get("software") or "a client that sent no name"
    if agent.get("device"):
        what += " on " + agent["device"]
    who = account or record.get("account")
    return shown("%s%s (%s)" % (who + " " if who else "", record.get("id"), what))


def lines(items):
    return "".join(line + "\n" for line in items)
