// `--summary` of a host-wide listing: counts by software, auth method, type, last-seen age and expiry,
// accumulated record by record so a streamed listing never has to be held in memory.
import type { HostClientRecord } from "./filters.js";
import type { IsoUtc } from "./model.js";

/** Last-seen age buckets, in order; "never" is an entry that was never seen (e.g. an unused grant). */
export const AGE_BUCKETS = ["< 7 d", "< 30 d", "< 90 d", "older", "never"] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

export interface ClientSummary {
  accounts: number;
  clients: number;
  connected: number;
  /** Software name -> count; entries without one count under null's key "(none)". */
  bySoftware: Record<string, number>;
  /** Auth method -> count (an entry counts once for each of its methods; "(none)" when it has none). */
  byAuth: Record<string, number>;
  byType: Record<string, number>;
  byLastSeen: Record<AgeBucket, number>;
  /** Clients by when their access ends (an access token's or grant's expiry); "never": no end. */
  byExpiry: Record<ExpiryBucket, number>;
  /** Accounts (each once) by their last activity (account-facts.ts); "unknown": not recorded. */
  byAccountActivity: Record<ActivityBucket, number>;
  /** Accounts (each once) by status; "unknown" when the server cannot say. */
  byAccountStatus: Record<string, number>;
}

export const ACTIVITY_BUCKETS = ["< 7 d", "< 30 d", "< 90 d", "older", "unknown"] as const;
export type ActivityBucket = (typeof ACTIVITY_BUCKETS)[number];

/** Expiry buckets, in order: already past, within 7 days, within 30, later, none. */
export const EXPIRY_BUCKETS = ["expired", "< 7 d", "< 30 d", "later", "never"] as const;
export type ExpiryBucket = (typeof EXPIRY_BUCKETS)[number];

export const NO_SOFTWARE = "(none)";

const DAY_MS = 86_400_000;

export function ageBucket(lastSeen: IsoUtc | null, now: Date): AgeBucket {
  if (lastSeen === null) return "never";
  const age = now.getTime() - Date.parse(lastSeen);
  if (age < 7 * DAY_MS) return "< 7 d";
  if (age < 30 * DAY_MS) return "< 30 d";
  if (age < 90 * DAY_MS) return "< 90 d";
  return "older";
}

export function expiryBucket(expires: IsoUtc | null, now: Date): ExpiryBucket {
  if (expires === null) return "never";
  const left = Date.parse(expires) - now.getTime();
  if (left <= 0) return "expired";
  if (left < 7 * DAY_MS) return "< 7 d";
  if (left < 30 * DAY_MS) return "< 30 d";
  return "later";
}

// Keys are names from the server (software "toString", "__proto__"): counted in objects without a
// prototype, so no name can hit an inherited property.
const bump = (m: Record<string, number>, key: string) => {
  m[key] = (m[key] ?? 0) + 1;
};
const counts = (): Record<string, number> => Object.create(null) as Record<string, number>;

/** Folds records into a summary as they arrive. */
export class SummaryBuilder {
  private readonly accounts = new Set<string>();
  private readonly s: ClientSummary = {
    accounts: 0,
    clients: 0,
    connected: 0,
    bySoftware: counts(),
    byAuth: counts(),
    byType: counts(),
    byLastSeen: Object.fromEntries(AGE_BUCKETS.map((b) => [b, 0])) as Record<AgeBucket, number>,
    byExpiry: Object.fromEntries(EXPIRY_BUCKETS.map((b) => [b, 0])) as Record<ExpiryBucket, number>,
    byAccountActivity: Object.fromEntries(ACTIVITY_BUCKETS.map((b) => [b, 0])) as Record<ActivityBucket, number>,
    byAccountStatus: counts(),
  };

  constructor(private readonly now: Date) {}

  add(r: HostClientRecord): void {
    if (!this.accounts.has(r.account)) {
      const age = ageBucket(r.accountLastActivity ?? null, this.now);
      this.s.byAccountActivity[age === "never" ? "unknown" : age]++;
      bump(this.s.byAccountStatus, r.accountStatus ?? "unknown");
    }
    this.accounts.add(r.account);
    this.s.clients++;
    if (r.connected) this.s.connected++;
    bump(this.s.bySoftware, r.userAgent.software ?? NO_SOFTWARE);
    if (r.auth.length === 0) bump(this.s.byAuth, NO_SOFTWARE);
    for (const a of r.auth) bump(this.s.byAuth, a);
    bump(this.s.byType, r.type);
    this.s.byLastSeen[ageBucket(r.lastSeen, this.now)]++;
    this.s.byExpiry[expiryBucket(r.expires, this.now)]++;
  }

  /** The summary so far; counts sorted by size (largest first), then by name. */
  result(): ClientSummary {
    const sorted = (m: Record<string, number>) =>
      Object.fromEntries(Object.entries(m).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)));
    return {
      ...this.s,
      accounts: this.accounts.size,
      bySoftware: sorted(this.s.bySoftware),
      byAuth: sorted(this.s.byAuth),
      byType: sorted(this.s.byType),
      byLastSeen: { ...this.s.byLastSeen },
      byExpiry: { ...this.s.byExpiry },
      byAccountActivity: { ...this.s.byAccountActivity },
      byAccountStatus: sorted(this.s.byAccountStatus),
    };
  }
}
