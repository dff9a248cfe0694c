// Who else may have touched a file that decides what camctl does: the config file (where it
// connects), secret files (passwords) and revocation plans (what it revokes). One rule set; each
// caller words the refusal for its own kind of file. Checked on the OPENED file (fstat), so the
// file checked is the file read.

/** What a kind of file allows beyond "mine, and nobody else may change it". */
export interface TrustRule {
  /** A file root owns is trusted too (the config file, passwords); false: only this user's (plans). */
  rootMayOwn: boolean;
  /** Others may read it (config, plans); false for secrets: owner only (chmod 600). */
  othersMayRead: boolean;
}

/** Why a file is not to be trusted, or undefined when it is. */
export type Exposure =
  | { kind: "owner"; uid: number }
  | { kind: "others-read" | "others-write"; mode: number };

/** Whether a file belongs to someone other than this user (and, unless `rootCounts` is false, root). */
export function ownedByAnother(uid: number, rootCounts = true): boolean {
  const me = process.getuid?.();
  return me !== undefined && uid !== me && !(rootCounts && uid === 0);
}

export function exposure(st: { uid: number; mode: number }, rule: TrustRule): Exposure | undefined {
  if (ownedByAnother(st.uid, rule.rootMayOwn)) return { kind: "owner", uid: st.uid };
  // Reading a secret is the worse exposure, so it is named first.
  if (!rule.othersMayRead && st.mode & 0o044) return { kind: "others-read", mode: st.mode };
  if (st.mode & 0o022) return { kind: "others-write", mode: st.mode };
  return undefined;
}

/** "(mode 644); make it private with chmod 600": how every "other users may read/change it" sentence ends. */
export const chmodHint = (mode: number) => `(mode ${(mode & 0o777).toString(8)}); make it private with chmod 600`;
