// Where the XMPP password comes from: --password-file, else $CAMCTL_PASSWORD, else a hidden prompt,
// only when stdin is a terminal. There is no flag that takes the password itself. The password is
// never echoed, logged or put into any message. It is read once, when the source is prepared
// (transport.ts), before --timeout starts: a person typing is not a slow server.
import { CamError } from "../errors.js";
import type { IOStreams } from "../iostreams.js";
import { msg, type SafeText } from "../text/untrusted.js";
import { readUserFile } from "./user-file.js";

export interface PasswordSource {
  loginJid: string;
  passwordFile: string | undefined;
  /** false under a context chosen by name: $CAMCTL_PASSWORD belongs to another server then. */
  passwordFromEnv?: boolean;
}

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

export async function readPassword(src: PasswordSource, io: IOStreams, prompt: PromptPassword = promptWithInquirer): Promise<string> {
  const who = src.loginJid;
  let password: string;
  let from: SafeText;
  if (src.passwordFile !== undefined) {
    from = msg`the password file ${src.passwordFile}`;
    try {
      password = passwordFromFileText(await readUserFile(src.passwordFile, MAX_PASSWORD_FILE_BYTES));
    } catch (e) {
      throw new CamError("usage", msg`Cannot read --password-file ${src.passwordFile}: ${(e as Error).message}.`);
    }
  } else if (src.passwordFromEnv !== false && io.env.CAMCTL_PASSWORD !== undefined && io.env.CAMCTL_PASSWORD !== "") {
    from = msg`CAMCTL_PASSWORD`;
    password = io.env.CAMCTL_PASSWORD;
  } else if (io.stdinIsTTY) {
    from = msg`the prompt`;
    try {
      // The prompt is written by the prompt library, not through camctl's message net: escaped here.
      password = await prompt(String(msg`Password for ${who}:`), io);
    } catch {
      throw new CamError("usage", "No password was entered; nothing was sent to the server.");
    }
  } else {
    throw new CamError(
      "usage",
      msg`No password for ${who}: stdin is not a terminal, so camctl cannot ask for it. ` +
        (src.passwordFromEnv === false
          ? `Give the context a password_file (CAMCTL_PASSWORD is not used for a context chosen by name), or pass --password-file <file>.`
          : `Put it in a file readable only by you and pass --password-file <file>, or set CAMCTL_PASSWORD.`),
    );
  }
  if (password.length === 0) throw new CamError("usage", msg`The password from ${from} is empty.`);
  if (/[\r\n]/.test(password)) {
    throw new CamError("usage", msg`The password from ${from} spans several lines; a password file holds only the password, on one line.`);
  }
  return password;
}
