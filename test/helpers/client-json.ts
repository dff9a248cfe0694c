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
}

export interface ClientListJson {
  jid: string;
  transport: string;
  clients: JsonClient[];
}
