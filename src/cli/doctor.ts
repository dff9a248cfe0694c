// camctl doctor [host...]: is this server (or each context) ready for camctl? For first setup and
// CI smoke checks. Over the admin socket (local or over SSH): the socket itself, Prosody's
// version, and per virtual host the modules and settings camctl depends on. Over XMPP: the
// certificate, SASL2 and FAST, camctl's login and a <list/>. Each check is ok, warn or fail with
// one sentence; the exit code is 0 when nothing failed (warnings do not fail), otherwise the most
// severe code of the failed checks.
import type { Command } from "commander";
import { CamError, exitCodeOf } from "../core/errors.js";
import { OutputWriter, type IOStreams } from "../term/iostreams.js";
import { addCommonOptions, addFanoutOptions, resolveCommon, type CommonOptions, type OutputFormat } from "../config/options.js";
import { fanoutRuns } from "../config/selection.js";
import { displaySafe, excerpt, msg } from "../text/untrusted.js";
import { isValidDomain } from "../core/validate.js";
import { CHECK_TITLES, checkRecord, checksOutcome, fail, type Check } from "../doctor/checks.js";
import type { Deps } from "./deps.js";
import type { ContextOutcome } from "../engines/fanout.js";
import type { PreparedSource } from "../transports/lifecycle.js";
import { throwUnlessDone } from "./outcome.js";

const DOCTOR_HELP = `
Checks, each ok / warn / fail with one sentence:
  over the admin socket (--socket, --ssh or a socket context): the socket is
  reachable and this user may use it; Prosody's version; per virtual host:
  mod_client_management, mod_sasl2 / mod_sasl2_fast / mod_tokenauth,
  enforce_client_ids, the companion module and its version, which of the
  module's known defects camctl assumes, whether accounts can be listed,
  mod_audit / mod_audit_auth (for history), the storage kind; and whether
  the server looks like Snikket. A missing default socket on a Docker host:
  the Snikket volumes' sockets, to give with --socket.
  over XMPP (--jid or an XMPP context): the TLS certificate (trusted, names,
  days to expiry), SASL2 and FAST offered, camctl's login, a <list/>.
Over the admin socket the checks only read. Over XMPP camctl logs in, and
a login is a client of the account: the first run adds camctl's entry
(software camctl) to the account's clients, later runs update its last use.

Exit code: 0 when no check failed (warnings do not fail); otherwise the code
of the most severe failure (3 unreachable, 4 login refused, 5 not permitted,
6 no such host, 8 no client management). With several contexts, every
context is checked and the exit code is the most severe of theirs.

Examples:
  camctl doctor
  camctl doctor example.com --json
  camctl --ssh prosody-admin@xmpp.example.com doctor
  camctl --all-contexts doctor --json`;

/** A check as written: with the context it belongs to when several are checked. */
type CheckRow = Check & { context?: string };

export function register(program: Command, deps: Deps): void {
  const cmd = program
    .command("doctor")
    .description("check that a server (or each context) is ready for camctl: socket, modules, certificate, login")
    .argument("[host...]", "virtual hosts to check (default: every one)");
  addFanoutOptions(addCommonOptions(cmd)).addHelpText("after", DOCTOR_HELP).action(async (hostArgs: string[], raw: Record<string, unknown>) => {
    const hosts = hostArgs.map(parseVirtualHost);
    const fan = fanoutRuns(raw, deps.defaultSocket);
    if (fan) return doctorFanout(fan, hosts, deps.io, deps);
    const opts = resolveCommon(raw, deps.defaultSocket);
    const checks = await checksFor(opts, hosts, deps.io, () => deps.prepareSource(opts, deps.io), deps.defaultSocket);
    const kind = checksOutcome(checks);
    await writeChecks(checks, opts.output, deps.io, { context: false, tail: { exitCode: exitCodeOf(kind) } });
    throwUnlessDone(kind, () => failedChecks(checks, opts.output !== "table"));
  });
}

function parseVirtualHost(input: string): string {
  const host = input.replace(/\.$/, "").toLowerCase();
  if (input.includes("@") || input.includes("/") || !isValidDomain(host)) {
    throw new CamError("usage", msg`"${input}" is not a virtual host name; give a domain such as example.com.`);
  }
  return host;
}

/**
 * The checks of one server, by its transport. Never rejects with a CamError: failures are checks.
 * `prepare` gives the prepared XMPP source (the socket checks need none).
 */
async function checksFor(opts: CommonOptions, hosts: readonly string[], io: IOStreams, prepare: () => Promise<PreparedSource>, defaultSocket: string): Promise<Check[]> {
  const { transport, timeoutSeconds } = opts;
  if (transport.kind === "socket") {
    const { socketChecks, DOCKER_VOLUMES_DIR } = await import("../doctor/socket.js");
    const { serverEnvironment } = await import("../config/environment.js");
    // The default socket missing on a Docker host: doctor names the Snikket volumes' sockets.
    const local = { defaultSocket, dockerVolumesDir: serverEnvironment(io.env).dockerVolumesDir ?? DOCKER_VOLUMES_DIR };
    return socketChecks({ transport, timeoutSeconds }, hosts.length > 0 ? hosts : undefined, local);
  }
  const { xmppChecks } = await import("../doctor/xmpp.js");
  try {
    return await xmppChecks({ transport, timeoutSeconds }, await prepare(), io);
  } catch (e) {
    if (e instanceof CamError) return [fail(null, "login", e.message, e.kind)];
    throw e;
  }
}

const title = (c: Check) => CHECK_TITLES[c.check] ?? c.check;

/** The words for a run with failed checks: how many, the first one, and with `withReason` its sentence. */
function failedChecks(checks: readonly Check[], withReason: boolean) {
  const failed = checks.filter((c) => c.status === "fail");
  const first = failed[0]!;
  const what = `${title(first)}${first.host ? ` on ${first.host}` : ""}`;
  const count = failed.length === 1 ? `1 of ${checks.length} checks failed (${what})` : `${failed.length} of ${checks.length} checks failed (the first: ${what})`;
  // In a table the sentences are on screen already.
  if (!withReason) return msg`${count}.`;
  const sentence = excerpt(first.message.replace(/\.$/, ""), 400);
  return failed.length === 1 ? msg`${what}: ${sentence}.` : msg`${count}: ${sentence}.`;
}

const CSV_HEADER = ["host", "check", "status", "exitCode", "message"];

/** Writes the checks in the chosen format; `tail` ends the JSON document. */
async function writeChecks(checks: readonly CheckRow[], format: OutputFormat, io: IOStreams, o: { context: boolean; tail: Record<string, unknown> }): Promise<void> {
  const out = new OutputWriter(io.stdout);
  if (format === "json") {
    const { renderJson } = await import("../render/json.js");
    await out.write(renderJson({ checks: checks.map(checkRecord), ...o.tail }));
  } else if (format === "ndjson") {
    const { renderJsonLine } = await import("../render/json.js");
    for (const c of checks) await out.write(renderJsonLine(checkRecord(c)));
  } else if (format === "csv") {
    const { csvRow } = await import("../render/csv.js");
    await out.write(csvRow(o.context ? ["context", ...CSV_HEADER] : CSV_HEADER));
    for (const c of checks) {
      const row = [c.host ?? "", c.check, c.status, String(exitCodeOf(c.kind)), c.message];
      await out.write(csvRow(o.context ? [c.context ?? "", ...row] : row));
    }
  } else {
    await out.write(await checksTable(checks, io, o.context));
  }
  await out.flush();
}

/** Narrower than this, the Detail column is not wrapped (each sentence keeps one long line). */
const MIN_DETAIL_WIDTH = 30;

async function checksTable(checks: readonly CheckRow[], io: IOStreams, withContext: boolean): Promise<string> {
  const [{ displayWidth, wrapToWidth }, { Chalk }] = await Promise.all([import("../render/width.js"), import("chalk")]);
  const paint = new Chalk({ level: io.color ? 1 : 0 });
  const tone = { ok: paint.green, warn: paint.yellow, fail: paint.red.bold };
  const header = [...(withContext ? ["Context"] : []), "Host", "Check", "Status", "Detail"];
  const rows = checks.map((c) => [...(withContext ? [c.context ?? ""] : []), c.host ?? "-", title(c), c.status, c.message].map(displaySafe));
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i]!))));
  const statusColumn = header.indexOf("Status");
  // On a terminal the Detail sentences wrap at its width, continuation lines under the column; a
  // word wider than the column (a path, a command to copy) stays whole on its own line.
  const detailStart = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  const detailWidth = io.width === undefined ? undefined : io.width - detailStart;
  const detail = (cell: string) =>
    detailWidth === undefined || detailWidth < MIN_DETAIL_WIDTH
      ? cell
      : wrapToWidth(cell, detailWidth, "").join(`\n${" ".repeat(detailStart)}`);
  const line = (cells: string[], isHeader: boolean) =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? (isHeader ? cell : detail(cell)) : cell + " ".repeat(widths[i]! - displayWidth(cell));
        if (isHeader) return paint.bold(padded);
        return i === statusColumn ? tone[cell as Check["status"]](padded) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(header, true), ...rows.map((r) => line(r, false))].join("\n") + "\n";
}

/** doctor on several contexts: each context's checks, merged, then each context's status. */
async function doctorFanout(
  fan: NonNullable<ReturnType<typeof fanoutRuns>>,
  hosts: readonly string[],
  io: IOStreams,
  deps: Pick<Deps, "prepareSource" | "defaultSocket">,
): Promise<void> {
  const { fanoutRecords, finishFanout, fanoutJsonTail, prepareWith } = await import("./fanout.js");
  const outcomes: ContextOutcome[] = [];
  const rows: CheckRow[] = [];
  const streaming = fan.output === "ndjson" || fan.output === "csv";
  const records = fanoutRecords<Check>(
    fan,
    async (prepared, opts, emit) => {
      const checks = await checksFor(opts, hosts, io, async () => prepared, deps.defaultSocket);
      for (const c of checks) await emit(c);
      throwUnlessDone(checksOutcome(checks), () => failedChecks(checks, true));
    },
    prepareWith(deps, io),
    outcomes,
  );
  if (streaming) {
    const out = new OutputWriter(io.stdout);
    const [{ renderJsonLine }, { csvRow }] = await Promise.all([import("../render/json.js"), import("../render/csv.js")]);
    if (fan.output === "csv") await out.write(csvRow(["context", ...CSV_HEADER]));
    for await (const c of records) {
      await out.write(fan.output === "csv" ? csvRow([c.context, c.host ?? "", c.check, c.status, String(exitCodeOf(c.kind)), c.message]) : renderJsonLine(checkRecord(c)));
      if (fan.output === "ndjson") await out.flush();
    }
    await out.flush();
  } else {
    for await (const c of records) rows.push(c);
    await writeChecks(rows, fan.output, io, { context: true, tail: fanoutJsonTail(outcomes) });
  }
  finishFanout(outcomes, fan.output, io);
}
