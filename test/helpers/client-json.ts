// The JSON shape of `camctl user clients --json` (docs/output-formats.md), as tests read it.
export interface JsonClient {
  id: string;
  type: string;
  connected: boolean;
  firstSeen: string | null;
  lastSeen: string | null;
  expires: string | null;
  auth: string[];
  userAgent: { software: string | null; version: string | null; softwareId: string | null; uri: string | null; device: string | null };
  permission: string | null;
  /** Where it connects from (issue 18): the live session's address and start, null when offline. */
  ip?: string | null;
  connectedSince?: string | null;
}

export interface ClientListJson {
  jid: string;
  transport: string;
  clients: JsonClient[];
}
