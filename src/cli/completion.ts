/**
 * `mks completion bash|zsh|fish`: completion scripts generated from the command tree itself, so
 * they never fall behind the commands. Each completes command words, options, and the values of
 * options with a fixed set of choices (`-o table|json|yaml`, `--kube-proxy-mode`…).
 */
import { type Command, Option } from 'commander';
import { usageError } from './cli-context.ts';

interface Node {
  /** Space-separated command path below `mks` ('' for the root). */
  path: string;
  description: string;
  subcommands: { name: string; description: string }[];
  options: { flags: string[]; takesValue: boolean; choices: readonly string[]; description: string }[];
}

function walk(command: Command, prefix: string, out: Node[]): Node[] {
  const visible = command.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
  out.push({
    path: prefix,
    description: command.description(),
    subcommands: visible.map((sub) => ({ name: sub.name(), description: sub.description() })),
    options: [...command.options, new Option('-h, --help', 'display help')].map((option) => ({
      flags: [option.short, option.long].filter((flag): flag is string => flag !== undefined),
      takesValue: option.required || option.optional,
      choices: option.argChoices ?? [],
      description: option.description,
    })),
  });
  for (const sub of visible) walk(sub, prefix === '' ? sub.name() : `${prefix} ${sub.name()}`, out);
  return out;
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function bash(nodes: Node[]): string {
  const words = nodes
    .map((node) => {
      const candidates = [...node.subcommands.map((s) => s.name), ...node.options.flatMap((o) => o.flags)];
      return `    ${quote(node.path)}) words=${quote(candidates.join(' '))} ;;`;
    })
    .join('\n');
  const valued = nodes.flatMap((node) => node.options.filter((o) => o.takesValue).flatMap((o) => o.flags));
  const choices = new Map<string, string>();
  for (const node of nodes) {
    for (const option of node.options) {
      for (const flag of option.flags)
        if (option.choices.length > 0) choices.set(flag, option.choices.join(' '));
    }
  }
  const choiceCases = [...choices]
    .map(([flag, values]) => `    ${flag}) words=${quote(values)} ;;`)
    .join('\n');
  const paths = nodes.map((node) => node.path).filter((p) => p !== '');
  return `# mks bash completion. Load it with: source <(mks completion bash)
_mks_completion() {
  local cur prev path="" word i words=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local -a known=(${paths.map(quote).join(' ')})
  local valued=" ${[...new Set(valued)].join(' ')} "
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ "$word" == -* ]]; then
      [[ "$valued" == *" $word "* ]] && ((i++))
      continue
    fi
    local candidate="\${path:+$path }$word"
    local k
    for k in "\${known[@]}"; do
      if [[ "$k" == "$candidate" ]]; then path="$candidate"; break; fi
    done
  done
  case "$prev" in
${choiceCases}
    *)
      case "$path" in
${words}
      esac ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _mks_completion mks
`;
}

function zsh(nodes: Node[]): string {
  // zsh runs the bash function through bashcompinit, as az and many others do: one logic, tested once.
  return `#compdef mks
# mks zsh completion. Load it with: source <(mks completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(nodes).replace(/^# mks bash completion.*\n/, '')}`;
}

function fish(nodes: Node[]): string {
  const lines = ['# mks fish completion. Load it with: mks completion fish | source', 'complete -c mks -f'];
  for (const node of nodes) {
    const parts = node.path === '' ? [] : node.path.split(' ');
    // At this node: every word of its path seen, and no subcommand of it yet.
    const children = node.subcommands.map((s) => s.name);
    const conditions = [
      parts.length === 0
        ? '__fish_use_subcommand'
        : parts.map((part) => `__fish_seen_subcommand_from ${part}`).join('; and '),
      ...(children.length > 0 && parts.length > 0
        ? [`not __fish_seen_subcommand_from ${children.join(' ')}`]
        : []),
    ];
    const condition = quote(conditions.join('; and '));
    for (const sub of node.subcommands) {
      lines.push(`complete -c mks -n ${condition} -a ${quote(sub.name)} -d ${quote(sub.description)}`);
    }
    if (parts.length === 0) continue;
    for (const option of node.options) {
      const flags = option.flags
        .map((flag) => (flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`))
        .join(' ');
      const value =
        option.choices.length > 0
          ? ` -x -a ${quote(option.choices.join(' '))}`
          : option.takesValue
            ? ' -r'
            : '';
      lines.push(`complete -c mks -n ${condition} ${flags}${value} -d ${quote(option.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export function completionScript(program: Command, shell: string): string {
  const nodes = walk(program, '', []);
  switch (shell) {
    case 'bash':
      return bash(nodes);
    case 'zsh':
      return zsh(nodes);
    case 'fish':
      return fish(nodes);
    default:
      throw usageError(`no completion for '${shell}': choose ${SHELLS.join(', ')}`);
  }
}
