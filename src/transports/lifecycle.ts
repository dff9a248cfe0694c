// The ClientSource lifecycle, in one place: prepare (prepare-source.ts: no network, no clock —
// except that before a password prompt the XMPP server is checked, under a deadline of its own)
// → open(signal) → work → close, all of open/work/close under ONE deadline, the only clock of
// --timeout (doctor's checks run under it too). It knows no transport, so every transport may use it.
import { abortable, onAbort } from "../core/abort.js";
import { CamError } from "../core/errors.js";
import type { ClientSource } from "../core/client-source.js";

/**
 * A source made ready before the clock starts: credentials read (a person typing a password is
 * not a slow server; an XMPP server is checked before anyone is asked for its password), CA
 * file loaded, local refusals decided, the state directory located. A command that needs several requests (look, confirm, revoke)
 * prepares once and opens twice, so nobody is asked for a password twice.
 */
export interface PreparedSource {
  /** Where requests go, display-safe, for messages: "the admin socket /var/lib/prosody/prosody.sock". */
  readonly where: string;
  /**
   * Connects (and logs in). Everything it does obeys `signal`, which is also handed to the source:
   * when the signal aborts, every wait ends with `signal.reason`.
   */
  open(signal: AbortSignal): Promise<ClientSource>;
}

/** What camctl says when --timeout runs out, whatever it was waiting for. */
export function timedOut(where: string, timeoutSeconds: number): CamError {
  return new CamError("unreachable", `No answer from ${where} within ${timeoutSeconds} s; is it overloaded or stuck? Raise --timeout to wait longer.`, "timeout");
}

/**
 * The deadline of --timeout: `signal` aborts with the timedOut error `timeoutSeconds` after it
 * starts, or after the last `alive()`; `stop()` ends it. withSource runs everything under one;
 * the XMPP server check before a password prompt (xmpp/open.ts) and doctor's checks run under
 * their own (underDeadline).
 */
export function startDeadline(where: string, timeoutSeconds: number, bound?: AbortSignal): { signal: AbortSignal; alive: () => void; stop: () => void } {
  const deadline = new AbortController();
  const { signal } = deadline;
  const expire = () => deadline.abort(timedOut(where, timeoutSeconds));
  let timer = setTimeout(expire, timeoutSeconds * 1000);
  const alive = () => {
    if (signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(expire, timeoutSeconds * 1000);
  };
  // A bound on the whole (`bound`, which alive() does not push back) ends it like the deadline, with its own reason.
  const unbind = bound ? onAbort(bound, () => deadline.abort(bound.reason)) : () => undefined;
  return { signal, alive, stop: () => { clearTimeout(timer); unbind(); } };
}

/** Runs `work` under a deadline of its own (startDeadline): a check before the real work, doctor's probe. */
export async function underDeadline<T>(where: string, timeoutSeconds: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, stop } = startDeadline(where, timeoutSeconds);
  try {
    return await abortable(work(signal), signal);
  } finally {
    stop();
  }
}

/**
 * How often (ms) a consumer that is busy with what the server sent (writing it out, asking)
 * re-arms the deadline: half of --timeout, so it fires at least once before the deadline would,
 * and at most once a second. No floor: at the smallest --timeout (0.1 s, core/validate.ts) a floor
 * of 100 ms would equal the whole deadline and let it run out while the wait is ours.
 */
export const keepAliveEvery = (timeoutSeconds: number): number => Math.min(1000, timeoutSeconds * 500);

/**
 * Keeps the deadline of `alive` from running out while `busy` is set: a slow reader of camctl's
 * output is not a slow server. `stop()` ends it.
 */
export function keepAlive(alive: () => void, timeoutSeconds: number): { busy: boolean; stop: () => void } {
  const state = { busy: false, stop: () => clearInterval(timer) };
  const timer = setInterval(() => state.busy && alive(), keepAliveEvery(timeoutSeconds));
  timer.unref();
  return state;
}

/**
 * Opens the prepared source, runs `work` and closes the source, all bounded by one deadline of
 * `timeoutSeconds` (startDeadline). Streaming work (host-wide scans, bulk revocation)
 * calls `alive()` whenever a batch arrives: the deadline then starts again, so --timeout bounds the
 * wait for each batch, not the whole scan. Its AbortSignal goes to open, to `work` and to
 * everything below them; when it fires, whatever is pending rejects with the timedOut error, the
 * connection is dropped and this rejects at once. The source is always closed (closing, too, ends
 * at the deadline). `bound`, when given, aborts the same way whatever alive() says (a limit on
 * the whole work, e.g. a fan-out's plan).
 */
export async function withSource<T>(
  prepared: PreparedSource,
  timeoutSeconds: number,
  work: (source: ClientSource, signal: AbortSignal, alive: () => void) => Promise<T>,
  bound?: AbortSignal,
): Promise<T> {
  const { signal, alive, stop } = startDeadline(prepared.where, timeoutSeconds, bound);
  const opening = prepared.open(signal);
  let source: ClientSource | undefined;
  try {
    source = await abortable(opening, signal);
    return await abortable(work(source, signal, alive), signal);
  } finally {
    try {
      if (source) await source.close();
      // Given up while still opening: close whatever opens late.
      else void opening.then((late) => late.close()).catch(() => undefined);
    } catch {
      // Closing is best effort; the answer (or the error) is what matters.
    } finally {
      stop();
    }
  }
}
