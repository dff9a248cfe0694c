// Shared data for the renderer and sanitiser tests: realistic clients, hostile strings, and
// fast-check arbitraries (test/unit/render-fixtures.test.ts checks them).
import fc from "fast-check";
import { isoFromUnix, type ClientList, type ClientRecord } from "../../src/core/model.js";
import { iso } from "./iso.js";
import { emptyNetwork } from "../../src/core/network.js";

export const NOW = new Date("2026-11-27T14:40:00Z");

/** Strings an intruder could choose as software, device or uri. */
export const HOSTILE = [
  "\x1b[31mred\x1b[0m", // SGR colour
  "\x1b[2J\x1b[H", // clear screen
  "\x1b]0;pwned\x07", // OSC window-title injection
  "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", // OSC 8 hyperlink
  "fake\rline", // carriage return overwrites the line
  "two\nlines", // newline fakes a row
  "client/fake  yes  Gajim\r\n", // CRLF with a fake row
  "\u202egnp.exe", // right-to-left override
  "\u009b31mC1 CSI", // C1 control sequence introducer
  "zero\u200bwidth\u200d\u2060\ufeff", // invisible characters
  "line\u2028sep\u2029para", // Unicode line/paragraph separators
  "back\bspace\x7f", // BS and DEL
  "\u0085next line", // C1 NEL
  "lone \ud800 surrogate \udfff",
  "tag \u{e0041}\u{e007f}", // astral format characters (tags)
  "back\\slash \\x1b",
];

/** One code unit or code point chosen to be nasty more often than chance would be. */
const hostileChar = fc.oneof(
  fc.constantFrom("\x1b", "\n", "\r", "\t", "\b", "\x7f", "\x9b", "\u202e", "\u200b", "\u2028", "\ufeff", "\\", '"', ",", "●", "…"),
  fc.integer({ min: 0, max: 0x9f }).map((n) => String.fromCharCode(n)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n)), // lone surrogates
  fc.constantFrom("漢", "字", "😀", "👍🏽", "é", "\u0301", "\u{1f1e9}\u{1f1ea}", "#\ufe0f\u20e3", "©"),
);

/** Arbitrary Unicode text: full code points (binary), graphemes, and hostile characters. */
export const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: hostileChar, maxLength: 30 }),
);

/** A time as the readers hand it on (a server's odd or hostile times are null by then: iso-time.test.ts). */
const anyTime = fc.oneof(
  fc.constant(null),
  fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2040-01-01T00:00:00Z"), noInvalidDate: true })
    .map((d) => isoFromUnix(d.getTime() / 1000)),
);

const orNull = (arb: fc.Arbitrary<string>) => fc.option(arb, { nil: null });

export const anyClient: fc.Arbitrary<ClientRecord> = fc.record({
  id: fc.oneof(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 70 }).map((s) => `client/${s}`), anyText),
  type: fc.constantFrom("session" as const, "access" as const),
  connected: fc.boolean(),
  firstSeen: anyTime,
  lastSeen: anyTime,
  expires: anyTime,
  auth: fc.array(anyText, { maxLength: 3 }),
  userAgent: fc.record({
    software: orNull(anyText),
    version: orNull(anyText),
    softwareId: orNull(anyText),
    uri: orNull(anyText),
    device: orNull(anyText),
  }),
  permission: orNull(anyText),
}).map((c) => ({ ...c, ...emptyNetwork() }));

export const anyClientList: fc.Arbitrary<ClientList> = fc.record({
  jid: anyText,
  transport: fc.constantFrom("socket" as const, "xmpp" as const),
  clients: fc.array(anyClient, { maxLength: 6 }),
});

export function client(over: Partial<ClientRecord> & { id: string }): ClientRecord {
  return {
    type: "session",
    connected: false,
    firstSeen: iso("2026-11-15T08:00:00Z"),
    lastSeen: iso("2026-11-27T14:37:25Z"),
    expires: null,
    auth: ["password"],
    userAgent: { software: "Gajim", version: "1.8.4", softwareId: null, uri: "https://gajim.org/", device: "laptop" },
    permission: null,
    ...emptyNetwork(),
    ...over,
  };
}

export const SAMPLE: ClientList = {
  jid: "alice@example.com",
  transport: "socket",
  clients: [
    client({ id: "client/zeiP41HLglIu", connected: true, auth: ["fast", "password"] }),
    client({
      id: "grant/HjEEr45_LQr",
      type: "access",
      firstSeen: iso("2026-11-27T09:12:00Z"),
      lastSeen: null,
      expires: iso("2026-11-30T10:00:00Z"),
      auth: ["oauth2"],
      userAgent: { software: "Movim", version: null, softwareId: "movim-1", uri: null, device: null },
      permission: "normal",
    }),
    client({
      id: "client/legacy-resource-Conversations.abcd",
      firstSeen: iso("2025-01-01T00:00:00Z"),
      lastSeen: iso("2026-10-01T00:00:00Z"),
      userAgent: { software: "Conversations", version: "2.16.8", softwareId: null, uri: null, device: "Pixel 7" },
    }),
  ],
};

/** Everything that must never reach a terminal raw (a regex per call: no shared lastIndex). */
export const unsafeChar = () => /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
