// camctl completion bash|zsh|fish: prints a shell completion script generated from the
// command tree itself, so commands and options are declared in one place only.
import { Argument, type Command, type Option } from "commander";
import type { Deps } from "./deps.js";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

type OptionInfo = { flags: string[]; takesValue: boolean; choices: string[]; description: string };

interface Leaf {
  path: string[];
  options: OptionInfo[];
  /** The values of its positional arguments that have a fixed set (`completion <shell>`). */
  argumentChoices: string[];
}

function leaves(cmd: Command, path: string[] = []): Leaf[] {
  const subs = cmd.commands as Command[];
  const out: Leaf[] = [];
  for (const sub of subs) {
    const names = [sub.name(), ...sub.aliases()];
    for (const name of names) {
      const p = [...path, name];
      if ((sub.commands as Command[]).length > 0) out.push(...leaves(sub, p));
      else {
        const argumentChoices = sub.registeredArguments.flatMap((a) => a.argChoices ?? []);
        out.push({ path: p, options: (sub.options as Option[]).map(describeOption), argumentChoices });
      }
    }
  }
  return out;
}

function describeOption(o: Option) {
  const flags = [o.short, o.long].filter((f): f is string => Boolean(f));
  return { flags, takesValue: o.required || o.optional, choices: o.argChoices ?? [], description: o.description };
}

const groups = (cmd: Command): string[] => (cmd.commands as Command[]).map((c) => c.name());

/** The command groups (user, host, ...): commands that have subcommands of their own. */
const commandGroups = (program: Command): Command[] => (program.commands as Command[]).filter((c) => (c.commands as Command[]).length > 0);

/** `case "$prev"` lines that complete the value of each option that takes one. */
function valueCases(options: OptionInfo[]): string {
  return options
    .filter((o) => o.takesValue)
    .map((o) => `      ${o.flags.join("|")}) COMPREPLY=($(compgen ${o.choices.length ? `-W "${o.choices.join(" ")}"` : "-f"} -- "$cur")); return ;;`)
    .join("\n");
}

function bash(program: Command): string {
  const programOptions = (program.options as Option[]).map(describeOption);
  const groupNames = commandGroups(program).map((g) => g.name());
  // Options whose next word is their value, not a command word (`camctl --context prod host …`).
  const valueFlags = [...new Set([...programOptions, ...leaves(program).flatMap((l) => l.options)].filter((o) => o.takesValue).flatMap((o) => o.flags))];
  const cases = leaves(program)
    .map((l) => {
      const opts = l.options.flatMap((o) => o.flags).join(" ");
      const args = l.argumentChoices.length ? `      [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "${l.argumentChoices.join(" ")}" -- "$cur")); return; }\n` : "";
      return `    "${l.path.join(" ")}")\n      case "$prev" in\n${valueCases(l.options)}\n      esac\n${args}      COMPREPLY=($(compgen -W "${opts}" -- "$cur")); return ;;`;
    })
    .join("\n");
  const groupCases = commandGroups(program)
    .map((g) => `    ${g.name()}) COMPREPLY=($(compgen -W "${groups(g).join(" ")}" -- "$cur")); return ;;`)
    .join("\n");
  const topWords = [...new Set([...groups(program), ...programOptions.flatMap((o) => o.flags), "--help", "--version"])];
  return `# bash completion for camctl; load with: source <(camctl completion bash)
_camctl() {
  local cur prev words=() key i w
  cur="\${COMP_WORDS[COMP_CWORD]}"; prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The command words so far: options and the values of options that take one are skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${valueFlags.join("|")}) ((i++)) ;;
      -*) ;;
      *) words+=("$w") ;;
    esac
  done
  key="\${words[0]}"
  case "\${words[0]}" in ${groupNames.join("|")}) key="\${words[0]} \${words[1]}" ;; esac
  case "$key" in
${cases}
  esac
  case "\${words[0]}" in
${groupCases}
  esac
  # Before the command: options that choose the server(s) may stand here too.
  case "$prev" in
${valueCases(programOptions)}
  esac
  COMPREPLY=($(compgen -W "${topWords.join(" ")}" -- "$cur"))
}
complete -o default -F _camctl camctl
`;
}

function zsh(program: Command): string {
  // zsh can run bash completion functions through bashcompinit.
  return `#compdef camctl
# zsh completion for camctl; load with: source <(camctl completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(program).split("\n").slice(1).join("\n")}`;
}

function fish(program: Command): string {
  const lines = ["# fish completion for camctl; load with: camctl completion fish | source", "complete -c camctl -f"];
  lines.push(`complete -c camctl -n "__fish_use_subcommand" -a "${groups(program).join(" ")}"`);
  // Options that choose the server(s) may stand before the command too.
  for (const o of (program.options as Option[]).map(describeOption)) lines.push(fishOption("__fish_use_subcommand", o));
  for (const g of commandGroups(program)) {
    const subs = groups(g).join(" ");
    lines.push(`complete -c camctl -n "__fish_seen_subcommand_from ${g.name()}; and not __fish_seen_subcommand_from ${subs}" -a "${subs}"`);
  }
  lines.push(`complete -c camctl -n "__fish_seen_subcommand_from completion" -a "${SHELLS.join(" ")}"`);
  for (const l of leaves(program)) {
    // Every word of the path: `user clients` and `host clients` have different options.
    const cond = l.path.map((word) => `__fish_seen_subcommand_from ${word}`).join("; and ");
    for (const o of l.options) lines.push(fishOption(cond, o));
  }
  return lines.join("\n") + "\n";
}

function fishOption(condition: string, o: OptionInfo): string {
  const parts = [`complete -c camctl -n "${condition}"`];
  for (const f of o.flags) parts.push(f.startsWith("--") ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
  if (o.takesValue) parts.push(o.choices.length ? `-x -a "${o.choices.join(" ")}"` : "-r -F");
  parts.push(`-d ${JSON.stringify(o.description)}`);
  return parts.join(" ");
}

export function register(program: Command, deps: Deps): void {
  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action((shell: Shell) => {
      const script = shell === "bash" ? bash(program) : shell === "zsh" ? zsh(program) : fish(program);
      deps.io.stdout.write(script);
    });
}
