// Reading the XMPP password from where the server spec says (config/server-spec.ts decided it:
// --password-file, else $CAMCTL_PASSWORD, else a hidden prompt, only when stdin is a terminal).
// There is no flag that takes the password itself. The password is never echoed, logged or put
// into any message. It is read once, when the source is prepared (open.ts), before --timeout
// starts: a person typing is not a slow server. Before the prompt the server is checked
// (open.ts), so nobody types a password for a server then refused.
import { CamError } from "../../core/errors.js";
import type { IOStreams } from "../../term/iostreams.js";
import { msg, type SafeText } from "../../text/untrusted.js";
import type { PasswordSpec } from "../types.js";
import { readUserFile } from "./user-file.js";

/** The prompt, injectable for tests; the real one is loaded only when it is needed. */
export type PromptPassword = (message: string, io: IOStreams) => Promise<string>;

const promptWithInquirer: PromptPassword = async (message, io) => {
  const { default: password } = await import("@inquirer/password");
  // toggleMask: false, so no key reveals what was typed.
  return password({ message, mask: false, toggleMask: false }, { input: io.stdin, output: io.stderr, clearPromptOnDone: true });
};

/** Larger than this, it is not a password file. */
const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/**
 * A password file holds the password and nothing else, on one line; one trailing newline is not
 * part of it. A file with more lines is refused rather than guessing which line is meant (it is
 * more likely the wrong file than a password).
 */
export function passwordFromFileText(text: string): string {
  return text.replace(/\r?\n$/, "");
}

/**
 * The password in a password file (`option` names where the file was given: --password-file,
 * --new-password-file). The same rules everywhere: a regular file, private to the user (owned by
 * them, chmod 600), the password alone on one line. Messages name the file, never its text.
 */
export async function readPasswordFile(file: string, option: string): Promise<string> {
  let text: string;
  try {
    text = await readUserFile(file, MAX_PASSWORD_FILE_BYTES, { secret: true });
  } catch (e) {
    throw new CamError("usage", msg`Cannot use ${option} ${file}: ${(e as Error).message}.`);
  }
  return checked(passwordFromFileText(text), msg`${option} ${file}`);
}

function checked(password: string, from: SafeText): string {
  if (password.length === 0) throw new CamError("usage", msg`The password from ${from} is empty.`);
  if (/[\r\n]/.test(password)) {
    throw new CamError("usage", msg`The password from ${from} has more than one line; a password file holds only the password, on one line.`);
  }
  return password;
}

/**
 * The password of `who`, from where `from` says. `beforePrompt` runs only when the prompt is next
 * (open.ts checks the server there); when it rejects, nobody is asked.
 */
export async function readPassword(
  who: string,
  from: PasswordSpec,
  io: IOStreams,
  prompt: PromptPassword = promptWithInquirer,
  beforePrompt: () => Promise<void> = async () => undefined,
): Promise<string> {
  if (from.from === "file") return readPasswordFile(from.path, "--password-file");
  if (from.from === "environment") return checked(from.value, msg`CAMCTL_PASSWORD`);
  if (io.stdinIsTTY) {
    await beforePrompt();
    let typed: string;
    try {
      // The prompt is written by the prompt library, not through camctl's message net: escaped here.
      typed = await prompt(String(msg`Password for ${who}:`), io);
    } catch {
      throw new CamError("usage", "No password was entered; nothing was sent to the server.");
    }
    return checked(typed, msg`the prompt`);
  }
  throw new CamError(
    "usage",
    msg`No password for ${who}: stdin is not a terminal, so camctl cannot ask for it. ` +
      (from.contextByName
        ? `Give the context a password_file (CAMCTL_PASSWORD is not used for a context chosen by name), or pass --password-file <file>.`
        : `Put it in a file readable only by you and pass --password-file <file>, or set CAMCTL_PASSWORD.`),
  );
}
