// One interface for both transports; commands never tell them apart.
import type { ClientList } from "./model.js";

export interface ClientSource {
  /** Lists what has access to the account `jid` (a validated bare JID). */
  list(jid: string): Promise<ClientList>;
  /**
   * Revokes one client's access. Resolves when the server confirmed; rejects with a CamError
   * (notFound, passwordResetRequired, unsupported, forbidden, unreachable...) otherwise.
   */
  revoke(jid: string, selector: string): Promise<void>;
  /** Releases the connection. Safe to call more than once. */
  close(): Promise<void>;
}
