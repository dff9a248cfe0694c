// The account status line under `user clients`' table: enabled or disabled (since when, why),
// when the password last changed, when the account was last active. Untrusted text (the reason)
// goes through displaySafe; unknown facts are left out, never guessed.
import type { AccountFacts } from "../core/account-facts.js";
import type { IsoUtc } from "../core/model.js";
import { displaySafe } from "../text/untrusted.js";
import { humanTime } from "./time.js";

export function accountStatusLine(f: AccountFacts, tty: boolean, now: Date): string {
  const when = (iso: IsoUtc) => (tty ? humanTime(iso, now) : iso);
  const parts: string[] = [];
  if (f.accountStatus === "disabled") {
    let s = "disabled";
    if (f.disabledAt !== null) s += ` since ${when(f.disabledAt)}`;
    if (f.disabledReason !== null) s += `, reason: "${displaySafe(f.disabledReason)}"`;
    parts.push(s);
  } else if (f.accountStatus === "enabled") {
    parts.push("enabled");
  } else {
    parts.push("status unknown");
  }
  if (f.passwordChanged !== null) parts.push(`password changed ${when(f.passwordChanged)}`);
  if (f.accountLastActivity !== null) parts.push(`last active ${when(f.accountLastActivity)}`);
  return `Account: ${parts.join("; ")}.\n`;
}
