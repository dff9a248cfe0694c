// The client table's column names, as --columns takes them (src/render/table.ts draws them;
// src/config/options.ts declares --columns and --wide). Here, below both, so that the filters
// (src/core/filters.ts) can say which column each one is about.

export const COLUMN_NAMES = [
  "context",
  "account",
  "id",
  "type",
  "connected",
  "software",
  "device",
  "first-seen",
  "last-seen",
  "expires",
  "auth",
  "address",
  "last-ip",
  "last-login",
] as const;

export type ColumnName = (typeof COLUMN_NAMES)[number];
