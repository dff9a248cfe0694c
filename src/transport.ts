// Picks the ClientSource for the chosen transport. Each implementation is imported only on
// the path that needs it, so the socket path never loads the XMPP client.
import { CamError } from "./errors.js";
import type { IOStreams } from "./iostreams.js";
import type { CommonOptions } from "./options.js";
import type { ClientSource } from "./source.js";

export type OpenSource = (opts: CommonOptions, io: IOStreams) => Promise<ClientSource>;

export const openSource: OpenSource = async (opts, io) => {
  const t = opts.transport;
  if (t.kind === "socket") {
    const { SocketClientSource } = await import("./socket/source.js");
    return new SocketClientSource(t.socketPath);
  }
  const { openXmppSource } = await import("./xmpp/open.js");
  return openXmppSource(t, opts.timeoutSeconds, io);
};

/**
 * Runs `work` with a source and bounds the whole of it by the timeout; the source is always
 * closed, whether the work finished, failed or timed out.
 */
export async function withSource<T>(
  opts: CommonOptions,
  io: IOStreams,
  open: OpenSource,
  work: (source: ClientSource) => Promise<T>,
): Promise<T> {
  // A person typing a password is not a slow server: ask before the clock starts.
  if (opts.transport.kind === "xmpp") {
    const { primePassword } = await import("./xmpp/open.js");
    await primePassword(opts.transport, io);
  }
  let timer: NodeJS.Timeout | undefined;
  let source: ClientSource | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const where = opts.transport.kind === "socket" ? `the admin socket ${opts.transport.socketPath}` : "the XMPP server";
      reject(new CamError("unreachable", `No answer from ${where} within ${opts.timeoutSeconds} s; is the server overloaded or stuck? Raise --timeout to wait longer.`));
    }, opts.timeoutSeconds * 1000);
  });
  const task = (async () => {
    source = await open(opts, io);
    return work(source);
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
