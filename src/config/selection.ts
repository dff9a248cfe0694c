// Which server(s) a command talks to, decided once before its action runs (a preAction hook in
// cli.ts): the command line, the environment and the config file's contexts (src/config/contexts.ts), in
// that order of precedence. The command then reads the result from its options (`selection`):
// resolveCommon (options.ts) for one server, fanoutRuns below for several; both turn it into the
// server spec through server-spec.ts.
//
// Only values the user typed count as the command line here: commander's defaults (--timeout 15,
// --tls starttls) must not hide a context's values; server-spec.ts applies the defaults last.
import { Command as CommanderCommand, type Command, type Option } from "commander";
import { CamError, usageError } from "../core/errors.js";
import type { IOStreams } from "../term/iostreams.js";
import { addCommonOptions, addFanoutOptions, DEFAULT_PARALLEL, resolveCommon, type CommonOptions, type OutputFormat, type ServerSelection } from "./options.js";
import type { TransportOptionValues } from "./contexts.js";

/**
 * The options that say which server(s) may also stand before the command (`camctl --ssh
 * admin@host host clients example.com`, `camctl --all-contexts doctor`). They are declared on the
 * program as copies of the commands' own declarations (options.ts), without defaults; the hook
 * hands what was typed there to the command.
 */
export function addGlobalServerOptions(program: Command): Command {
  // Before the command they are the program's (programRoot enables positional options); after
  // it, the command's own, as always.
  const template = addFanoutOptions(addCommonOptions(new CommanderCommand()));
  for (const o of template.options as Option[]) {
    if (!GLOBAL_KEYS.has(o.attributeName())) continue;
    o.default(undefined);
    program.addOption(o);
  }
  return program;
}

const GLOBAL_KEYS = new Set(["socket", "jid", "passwordFile", "server", "tls", "caFile", "timeout", "context", "allContexts", "parallel", "ssh", "sshRoute", "sudoUser", "sshConfig", "container", "containerEngine"]);

const declares = (cmd: Command, key: string) => (cmd.options as Option[]).some((o) => o.attributeName() === key);

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

const TRANSPORT_KEYS = ["socket", "ssh", "sshRoute", "sudoUser", "sshConfig", "container", "containerEngine", "jid", "passwordFile", "server", "tls", "caFile", "timeout"] as const;

/** Options that name one server or its credentials: meaningless for several contexts at once. */
const ONE_SERVER_KEYS: Partial<Record<keyof TransportOptionValues, string>> = { ssh: "--ssh", container: "--container", jid: "--jid", server: "--server", passwordFile: "--password-file" };

/** The preAction hook: moves options typed before the command to it, then decides the server(s). */
export async function selectServers(program: Command, action: Command, io: IOStreams): Promise<void> {
  for (const o of program.options as Option[]) {
    const key = o.attributeName();
    if (program.getOptionValueSource(key) !== "cli") continue;
    if (!declares(action, key)) throw usageError(`${o.long} does not apply to \`${commandPath(action)}\`.`);
    // Typed after the command too: that one is nearer, and wins.
    if (action.getOptionValueSource(key) !== "cli") action.setOptionValueWithSource(key, program.getOptionValue(key), "cli");
  }
  if (!declares(action, "socket")) return;

  const typed = <T>(key: string): T | undefined => (action.getOptionValueSource(key) === "cli" ? (action.getOptionValue(key) as T) : undefined);
  const cli: TransportOptionValues = {};
  for (const key of TRANSPORT_KEYS) {
    const v = typed<never>(key);
    if (v !== undefined) cli[key] = v;
  }
  const env = io.env;
  const spec = typed<string>("context");
  const all = typed<boolean>("allContexts") === true;
  const { applyContext, configPath, contextsByNames, loadContextFile, selectContext } = await import("./contexts.js");
  const path = configPath(env);
  const file = await loadContextFile(env, path);
  let selection: ServerSelection;
  if (all || (spec !== undefined && spec.includes(","))) {
    if (!declares(action, "allContexts")) {
      throw usageError(`\`${commandPath(action)}\` works on one server; give --context one name.`);
    }
    if (all && spec !== undefined) throw usageError("Give either --context with a list of names or --all-contexts, not both.");
    const oneServer = Object.entries(ONE_SERVER_KEYS).filter(([k]) => cli[k as keyof TransportOptionValues] !== undefined).map(([, flag]) => flag);
    if (oneServer.length > 0) {
      throw usageError(`${oneServer.join(", ")} ${oneServer.length > 1 ? "name" : "names"} one server; with several contexts each context says where its server is.`);
    }
    const contexts = contextsByNames(file, all ? { all: true } : spec!, env);
    selection = {
      kind: "many",
      runs: contexts.map((c) => ({ context: c.name, applied: applyContext(cli, env, { context: c, source: "flag" }) })),
      parallel: typed<number>("parallel") ?? DEFAULT_PARALLEL,
    };
  } else {
    selection = { kind: "one", applied: applyContext(cli, env, selectContext(file, spec, env, path)) };
  }
  action.setOptionValueWithSource("selection", selection, "config");
}

/** One context of a fan-out: its options, or why they are not usable (that context fails alone). */
export interface FanoutRun {
  context: string;
  opts: CommonOptions | undefined;
  error: CamError | undefined;
}

/** The runs of a fan-out (several contexts), or undefined when the command talks to one server. */
export function fanoutRuns(raw: Record<string, unknown>, defaultSocket: string): { runs: FanoutRun[]; parallel: number; output: OutputFormat } | undefined {
  const selection = raw.selection as ServerSelection | undefined;
  if (selection?.kind !== "many") return undefined;
  const runs = selection.runs.map(({ context, applied }): FanoutRun => {
    try {
      return { context, opts: resolveCommon(raw, defaultSocket, applied), error: undefined };
    } catch (e) {
      if (e instanceof CamError) return { context, opts: undefined, error: e };
      throw e;
    }
  });
  return { runs, parallel: selection.parallel, output: raw.json === true ? "json" : ((raw.output as OutputFormat | undefined) ?? "table") };
}
