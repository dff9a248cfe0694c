// Commander's Command, speaking camctl's voice: a parse error (unknown option, bad --timeout or
// --output value, missing argument, ...) becomes a usage CamError, so it reaches the user as
// `camctl: <sentence>` with exit 2 like every other error, with the offending argv value escaped.
import { Command, type ErrorOptions } from "commander";
import { CamError } from "../core/errors.js";
import { msg, type SafeText } from "../text/untrusted.js";

/** "camctl user clients": the command's path, for the --help hint. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The long flag of an option's flags ("-o, --output <format>" → "--output"). */
const longFlag = (flags: string) => /--[\w-]+/.exec(flags)?.[0] ?? flags.split(/[ ,]/)[0] ?? flags;

/** A reason commander or an option parser gave, as the tail of a sentence ("Allowed …" → "allowed …"). */
const reasonTail = (reason: string) => reason.charAt(0).toLowerCase() + reason.slice(1);

/** Did-you-mean suggestions are commander's own (names from the command tree). */
const suggestion = (rest: string) => /\(Did you mean (.+)\?\)/.exec(rest)?.[1];

/**
 * Commander's message (the fixed forms of commander 14, pinned in package.json) rewritten as a sentence.
 * Values from argv are escaped; a form this does not know is passed on (cli.ts escapes it).
 */
export function usageSentence(message: string, cmd: Command): SafeText | string {
  let m: RegExpExecArray | null;
  if ((m = /^error: option '([^']*)' argument '([\s\S]*)' is invalid\. ([\s\S]*)$/.exec(message))) {
    return msg`Invalid value "${m[2]!}" for ${longFlag(m[1]!)}: ${reasonTail(m[3]!)}`;
  }
  if ((m = /^error: command-argument value '([\s\S]*)' is invalid for argument '([^']*)'\. ([\s\S]*)$/.exec(message))) {
    return msg`Invalid <${m[2]!}> "${m[1]!}": ${reasonTail(m[3]!)}`;
  }
  if ((m = /^error: unknown (option|command) '([\s\S]*?)'(\n\([\s\S]*\))?$/.exec(message))) {
    const didYouMean = suggestion(m[3] ?? "");
    return didYouMean ? msg`Unknown ${m[1]!} "${m[2]!}" (did you mean ${didYouMean}?).` : msg`Unknown ${m[1]!} "${m[2]!}".`;
  }
  if ((m = /^error: missing required argument '([^']*)'$/.exec(message))) {
    const arg = cmd.registeredArguments.find((a) => a.name() === m![1]);
    return arg?.description ? msg`Missing <${m[1]!}> (${arg.description}).` : msg`Missing <${m[1]!}>.`;
  }
  if ((m = /^error: option '([^']*)' argument missing$/.exec(message))) {
    return msg`${longFlag(m[1]!)} needs a value (${m[1]!}).`;
  }
  const plain = message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  return plain.charAt(0).toUpperCase() + plain.slice(1) + (/[.?!]$/.test(plain) ? "" : ".");
}

/** Every command in camctl's tree is one of these (createCommand makes subcommands of the same class). */
export class CamCommand extends Command {
  override createCommand(name?: string): Command {
    return new CamCommand(name);
  }

  /** Commander calls this for every parse error; camctl turns it into a usage error instead of printing. */
  override error(message: string, _options?: ErrorOptions): never {
    const sentence = usageSentence(message, this);
    throw new CamError("usage", msg`${sentence} See \`${commandPath(this)} --help\`.`);
  }
}
