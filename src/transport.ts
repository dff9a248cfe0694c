// The ClientSource lifecycle, in one place: prepare (no network, no clock) → open(signal) → work →
// close, all of open/work/close under one deadline. Each transport is imported only on the path
// that needs it, so the socket path never loads the XMPP client.
import { CamError } from "./errors.js";
import type { IOStreams } from "./iostreams.js";
import type { CommonOptions } from "./options.js";
import type { ClientSource } from "./source.js";

/**
 * A source made ready without touching the network and before the clock starts: credentials read
 * (a person typing a password is not a slow server), CA file loaded, local refusals decided.
 * A command that needs several requests (look, confirm, revoke) prepares once and opens twice.
 */
export interface PreparedSource {
  /** Where requests go, for messages: "the admin socket /var/lib/prosody/prosody.sock". */
  readonly where: string;
  open(signal: AbortSignal): Promise<ClientSource>;
}

export type PrepareSource = (opts: CommonOptions, io: IOStreams) => Promise<PreparedSource>;

export const prepareSource: PrepareSource = async (opts, io) => {
  const t = opts.transport;
  if (t.kind === "socket") {
    const { SocketClientSource } = await import("./socket/source.js");
    return { where: `the admin socket ${t.socketPath}`, open: async () => new SocketClientSource(t.socketPath) };
  }
  const { primePassword, openXmppSource } = await import("./xmpp/open.js");
  await primePassword(t, io);
  return { where: "the XMPP server", open: async () => openXmppSource(t, opts.timeoutSeconds, io) };
};

/**
 * Opens the prepared source, runs `work` and closes the source, all bounded by one deadline of
 * `timeoutSeconds`; the source is always closed, whether the work finished, failed or timed out.
 * `work` gets the deadline's signal to pass down.
 */
export async function withSource<T>(
  prepared: PreparedSource,
  timeoutSeconds: number,
  work: (source: ClientSource, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let source: ClientSource | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new CamError("unreachable", `No answer from ${prepared.where} within ${timeoutSeconds} s; is the server overloaded or stuck? Raise --timeout to wait longer.`);
      deadline.abort(err);
      reject(err);
    }, timeoutSeconds * 1000);
  });
  const task = (async () => {
    source = await prepared.open(deadline.signal);
    return work(source, deadline.signal);
  })();
  task.catch(() => undefined); // a late failure after the timeout must not become an unhandled rejection
  try {
    return await Promise.race([task, timeout]);
  } finally {
    clearTimeout(timer);
    if (source) await source.close().catch(() => undefined);
    // Timed out while still opening: close whatever opens late.
    else void task.finally(() => source?.close().catch(() => undefined)).catch(() => undefined);
  }
}
