// The admin-socket source, reached over an SSH link. Everything above the byte stream is the
// socket transport unchanged: the source talks to the link's private socket as to a local
// Prosody. This wrapper only (1) closes the link with the source and (2) replaces an error the
// socket client reports when the link itself broke ("Prosody closed the connection") by the
// link's own sentence (host key, login, missing socket, link lost).
import type { ClientSource } from "../../core/client-source.js";
import type { ContainerLinkOptions } from "../container/link.js";
import { openSshLink, type SshLink, type SshLinkOptions } from "./link.js";

type Closable = { close(): Promise<void> };

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === "object" && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/** What wrapping needs of a link: the SSH link, or the container link (container/link.ts). */
type ExplainingLink = Pick<SshLink, "explain" | "close">;

async function* explained<T>(iterable: AsyncIterable<T>, link: ExplainingLink): AsyncGenerator<T> {
  try {
    yield* iterable;
  } catch (e) {
    throw await link.explain(e);
  }
}

/**
 * Wraps every method of `inner`: promises and async iterables (streamed listings) reject with the
 * link's explanation; close() closes the source, then the link. Works for any ClientSource shape,
 * so methods added to the seam later need nothing here.
 */
export function sourceOverLink<T extends Closable>(inner: T, link: ExplainingLink): T {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "close") {
        return async () => {
          try {
            await target.close();
          } finally {
            await link.close();
          }
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) return result.catch(async (e: unknown) => Promise.reject(await link.explain(e)));
        if (isAsyncIterable(result)) return explained(result, link);
        return result;
      };
    },
  });
}

/**
 * Opens the link and the admin-socket source on it. `makeSource` builds the ordinary socket
 * source for a path (new SocketClientSource(path)); on failure nothing is left open.
 */
export async function openSourceOverSsh<T extends Closable = ClientSource>(
  o: SshLinkOptions,
  makeSource: (socketPath: string) => T | Promise<T>,
): Promise<T> {
  const link = await openSshLink(o);
  try {
    return sourceOverLink(await makeSource(link.localPath), link);
  } catch (e) {
    await link.close();
    throw e;
  }
}

/** Opens the container link (container/link.ts) and the admin-socket source on it, as openSourceOverSsh. */
export async function openSourceInContainer<T extends Closable = ClientSource>(
  o: ContainerLinkOptions,
  makeSource: (socketPath: string) => T | Promise<T>,
): Promise<T> {
  const { openContainerLink } = await import("../container/link.js");
  const link = await openContainerLink(o);
  try {
    return sourceOverLink(await makeSource(link.localPath), link);
  } catch (e) {
    await link.close();
    throw e;
  }
}
