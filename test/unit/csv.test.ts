import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CSV_COLUMNS, csvField, csvRow, renderClientsCsv } from "../../src/render/csv.js";
import { displaySafe } from "../../src/text/untrusted.js";
import type { ClientList } from "../../src/core/model.js";
import { HOSTILE, SAMPLE, anyClientList, anyText, client, unsafeChar } from "../helpers/render-fixtures.js";

/**
 * A strict RFC 4180 reader: records end in CRLF, a field is either plain (no `"`, `,`, CR, LF)
 * or quoted with inner quotes doubled. Anything else throws, so sloppy output fails the tests.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error("unterminated quoted field");
          if (text[i] === '"') {
            if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          field += text[i++];
        }
      } else {
        while (i < text.length && !/[",\r\n]/.test(text[i]!)) field += text[i++];
        if (text[i] === '"') throw new Error(`quote inside a plain field at ${i}`);
      }
      record.push(field);
      if (text[i] === ",") { i++; continue; }
      if (text.startsWith("\r\n", i)) { i += 2; break; }
      throw new Error(`expected , or CRLF at ${i}, found ${JSON.stringify(text[i])}`);
    }
    records.push(record);
  }
  return records;
}

test("the test's own CSV reader understands RFC 4180 quoting", () => {
  assert.deepEqual(parseCsv('a,"b,c","say ""hi""","x\r\ny"\r\n,\r\n'), [["a", "b,c", 'say "hi"', "x\r\ny"], ["", ""]]);
  assert.throws(() => parseCsv("a,b\n"));
  assert.throws(() => parseCsv('a"b\r\n'));
});

test("csvField quotes exactly when RFC 4180 requires it", () => {
  assert.equal(csvField("plain text"), "plain text");
  assert.equal(csvField("a,b"), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField("a\r\nb"), '"a\r\nb"');
  assert.equal(csvField("a\nb"), '"a\nb"');
  assert.equal(csvField(""), "");
});

test("header and rows: stable columns, ISO times, true/false, auth joined with ;", () => {
  const out = renderClientsCsv(SAMPLE);
  assert.ok(out.endsWith("\r\n"));
  const [header, first, second] = parseCsv(out);
  assert.deepEqual(header, [...CSV_COLUMNS]);
  assert.deepEqual(header, "id,type,connected,firstSeen,lastSeen,expires,auth,software,version,softwareId,uri,device,permission,ip,connectedSince,firstIp,firstLogin,lastIp,lastLogin,lastMechanism,loginCount".split(","));
  assert.deepEqual(first, ["client/zeiP41HLglIu", "session", "true", "2026-11-15T08:00:00Z", "2026-11-27T14:37:25Z", "", "fast;password", "Gajim", "1.8.4", "", "https://gajim.org/", "laptop", "", "", "", "", "", "", "", "", ""]);
  assert.deepEqual(second, ["grant/HjEEr45_LQr", "access", "false", "2026-11-27T09:12:00Z", "", "2026-11-30T10:00:00Z", "oauth2", "Movim", "", "movim-1", "", "", "normal", "", "", "", "", "", "", "", ""]);
});

test("an empty list is just the header", () => {
  assert.equal(renderClientsCsv({ ...SAMPLE, clients: [] }), CSV_COLUMNS.join(",") + "\r\n");
});

test("quotes and commas are quoted; controls are made visible, never raw", () => {
  const list: ClientList = {
    ...SAMPLE,
    clients: [client({ id: "client/a", userAgent: { software: 'Evil "quoted", app', version: "1\r\n2", softwareId: null, uri: null, device: "x\u202ey" } })],
  };
  const out = renderClientsCsv(list);
  assert.ok(out.includes('"Evil ""quoted"", app"'));
  const rows = parseCsv(out);
  assert.equal(rows.length, 2);
  assert.equal(rows[1]![7], 'Evil "quoted", app');
  assert.equal(rows[1]![8], "1\\r\\n2");
  assert.equal(rows[1]![11], "x\\u202ey");
});

test("hostile strings never appear raw; CR LF only as record ends", () => {
  const list: ClientList = {
    ...SAMPLE,
    clients: HOSTILE.map((s, i) => client({ id: `client/${i}${s}`, auth: [s], userAgent: { software: s, version: s, softwareId: s, uri: s, device: s }, permission: s })),
  };
  const out = renderClientsCsv(list);
  assert.equal(unsafeChar().exec(out.replace(/\r\n/g, "")), null);
  const rows = parseCsv(out);
  assert.equal(rows.length, HOSTILE.length + 1);
  for (const row of rows) assert.equal(row.length, CSV_COLUMNS.length);
});

test("values that a spreadsheet would run as formulas get a leading '", () => {
  assert.equal(csvRow(["=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "a=b"]), `"'=HYPERLINK(""http://evil"")",'+1,'-2,'@SUM(A1),a=b\r\n`);
});

const expectedField = (s: string) => {
  const safe = displaySafe(s);
  return /^[=+\-@]/.test(safe) ? `'${safe}` : safe;
};

test("property: csvRow round-trips through an RFC 4180 reader", () => {
  fc.assert(
    fc.property(fc.array(anyText, { minLength: 1, maxLength: 8 }), (fields) => {
      const out = csvRow(fields);
      assert.deepEqual(parseCsv(out), [fields.map(expectedField)]);
      return unsafeChar().exec(out.slice(0, -2)) === null;
    }),
    { numRuns: 1000 },
  );
});

test("property: the client CSV parses back to one row per client with every field", () => {
  fc.assert(
    fc.property(anyClientList, (list) => {
      const out = renderClientsCsv(list);
      assert.equal(unsafeChar().exec(out.replace(/\r\n/g, "")), null);
      const rows = parseCsv(out);
      assert.equal(rows.length, list.clients.length + 1);
      rows.forEach((row) => assert.equal(row.length, CSV_COLUMNS.length));
      list.clients.forEach((c, i) => {
        const row = rows[i + 1]!;
        assert.equal(row[0], expectedField(c.id));
        assert.equal(row[2], String(c.connected));
        assert.equal(row[7], expectedField(c.userAgent.software ?? ""));
        assert.equal(row[11], expectedField(c.userAgent.device ?? ""));
      });
      return true;
    }),
    { numRuns: 500 },
  );
});
