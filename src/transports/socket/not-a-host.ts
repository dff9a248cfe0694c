// "x is not a host of this Prosody server", naming the hosts it does serve: the failure trailer of
// a host-not-found carries the first few (record_stream.lua's host_not_found, space-separated)
// and how many there are. Host names come from the server: shown through msg``, like any input.
import { CamError } from "../../core/errors.js";
import { msg } from "../../text/untrusted.js";

export function notAHostError(host: string, meta: Record<string, unknown>): CamError {
  const shown = typeof meta.hosts === "string" ? meta.hosts.split(" ").filter((h) => h !== "") : [];
  const total = typeof meta.host_count === "number" && meta.host_count >= shown.length ? meta.host_count : shown.length;
  const more = total - shown.length;
  const list = more > 0 ? [...shown.map((h) => msg`${h}`.toString()), `${more.toLocaleString("en-US")} more`] : shown.map((h) => msg`${h}`.toString());
  const named = list.length === 0 ? "" : list.length === 1 ? list[0] : `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
  const served = total === 0 ? "; it serves no virtual host" : `; ${total === 1 ? "its virtual host is" : "its virtual hosts are"} ${named}`;
  return new CamError("notFound", `${msg`${host}`} is not a host of this Prosody server${served}.`, "host-not-found");
}
