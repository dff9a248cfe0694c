// --account-inactive-since on a host that records no account activity: exit 8 with how to enable it.
import { CamError } from "./errors.js";
import { msg } from "../text/untrusted.js";

export function activityNotRecorded(host: string): CamError {
  return new CamError(
    "unsupported",
    msg`${host} records no account activity, so --account-inactive-since cannot tell which accounts are inactive. Add "account_activity" to modules_enabled (Prosody 13), or load mod_lastlog2, and reload Prosody; activity is recorded from then on.`,
    "activity-not-recorded",
  );
}
