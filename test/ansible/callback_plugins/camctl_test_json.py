# -*- coding: utf-8 -*-
# A stdout callback for test/integration/ansible.test.ts: every task's result per host, as one
# JSON document at the end of the run. ansible-core ships no JSON callback of its own (Debian's
# 2.14 has it only in the ansible.posix collection), so the suite brings this small one.
from __future__ import annotations

DOCUMENTATION = r"""
name: camctl_test_json
type: stdout
short_description: Every task result per host as one JSON document (camctl's test suite)
description:
  - Prints one object, with C(plays) (each with its C(tasks), each with C(task.name) and the result
    per host in C(hosts)) and C(stats) (the counts per host).
"""

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "camctl_test_json"

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": play.get_name(), "tasks": []})

    def _task(self, task):
        tasks = self.plays[-1]["tasks"]
        if not tasks or tasks[-1]["id"] != task._uuid:
            tasks.append({"id": task._uuid, "task": {"name": task.get_name()}, "hosts": {}})
        return tasks[-1]

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def _record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        self._task(result._task)["hosts"][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True, ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((h, stats.summarize(h)) for h in sorted(stats.processed))
        self._display.display(json.dumps({"plays": self.plays, "stats": summary}, default=str))
