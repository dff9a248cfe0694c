// One interface for both transports; commands never tell them apart.
import type { ClientList, ClientRecord, RevokeReport } from "./model.js";

export interface ClientSource {
  /** Lists what has access to the account `jid` (a validated bare JID). */
  list(jid: string): Promise<ClientList>;
  /**
   * Revokes everything the listed entry `expected` can come back with (its sessions, FAST tokens,
   * grant), by its exact id — never by re-resolving a selector — then re-reads the list and reports
   * what still has access. If the entry is no longer listed, or is listed as a different client
   * (another first-seen time or user agent), nothing is revoked: it rejects with notFound, condition
   * "gone" or "changed". Other failures reject with a CamError (unsupported, forbidden, unreachable...).
   */
  revoke(jid: string, expected: ClientRecord): Promise<RevokeReport>;
  /** Releases the connection. Safe to call more than once. */
  close(): Promise<void>;
}
