// `minid completion bash|zsh|fish`: scripts that complete commands, each command's flags, and
// container and image names (asked of minid itself at completion time, with the same --root).
import { aliasesOf } from "./help.ts";

interface Spec {
  name: string;
  flags: string[];
  /** What the positional arguments are: containers, images or nothing. */
  operand: "container" | "image" | "any" | "none";
}

const IMAGE_OPERAND = new Set(["run", "create", "images", "rmi", "history", "image-inspect", "save", "tag", "push"]);
const ANY_OPERAND = new Set(["inspect"]);
const NO_OPERAND = new Set(["ps", "version", "load", "import", "pull", "login", "logout", "container-prune", "completion", "container",
  "volume", "volume-create", "volume-ls", "volume-inspect", "volume-rm", "volume-prune", "system", "system-df", "system-prune", "image-prune", "info", "events",
  "network", "network-create", "network-ls", "network-inspect", "network-rm", "network-prune", "network-connect", "network-disconnect"]);

type Loader = () => Promise<{ default: { args?: unknown } }>;

async function specs(commands: Record<string, Loader>): Promise<Spec[]> {
  const out: Spec[] = [];
  for (const [name, load] of Object.entries(commands)) {
    const cmd = (await load()).default;
    const flags: string[] = [];
    for (const [flag, def] of Object.entries((cmd.args ?? {}) as Record<string, { type?: string; alias?: string | string[] }>)) {
      if (def.type === "positional") continue;
      flags.push(`--${flag}`);
      for (const a of Array.isArray(def.alias) ? def.alias : def.alias ? [def.alias] : []) flags.push(a.length === 1 ? `-${a}` : `--${a}`);
    }
    flags.push("--help");
    out.push({
      name,
      flags,
      operand: IMAGE_OPERAND.has(name) ? "image" : ANY_OPERAND.has(name) ? "any" : NO_OPERAND.has(name) ? "none" : "container",
    });
  }
  return out;
}

// What a user types for each command (image-inspect is `image inspect`, and so on).
const typed = (n: string) => n.replace(/^(image|container|volume|system|network)-/, "$1 ");
const topWords = (ss: Spec[]) => [...new Set([...ss.map((s) => typed(s.name).split(" ")[0]!), "image", "container"])].sort();
const subWords = (ss: Spec[], group: "container" | "image" | "volume" | "system" | "network") =>
  [...new Set(ss.flatMap((s) => [typed(s.name), ...aliasesOf(s.name)].filter((a) => a.startsWith(`${group} `)).map((a) => a.split(" ")[1]!)))].sort();

const GLOBAL_VALUE_FLAGS = ["--bridge-name", "--bridge-subnet", "--root", "--storage-driver", "-s", "--insecure-registry", "--registry-connect-timeout", "--registry-idle-timeout", "--log-level", "-l"];
const LIST_CONTAINERS = `ps -a --format '{{.Names}}'`;
const LIST_IMAGES = `images --format '{{if ne .Tag "<none>"}}{{.Repository}}:{{.Tag}}{{else}}{{.ID}}{{end}}'`;

function bash(ss: Spec[]): string {
  const cases = ss
    .map((s) => `    ${typed(s.name).replace(" ", "-")}) flags="${s.flags.join(" ")}"; operand=${s.operand} ;;`)
    .join("\n");
  return `# bash completion for minid (minid completion bash)
# The words of $1 that start with $2 (compgen -W, which zsh's bashcompinit does not filter).
_minid_reply() {
  [[ -n $ZSH_VERSION ]] && setopt localoptions ksharrays shwordsplit
  local w
  COMPREPLY=()
  for w in $1; do
    [[ $w == "$2"* ]] && COMPREPLY+=("$w")
  done
}

_minid_names() {
  # Under zsh (bashcompinit), arrays count from 0 here as in bash.
  [[ -n $ZSH_VERSION ]] && setopt localoptions ksharrays
  # The same --root as the command line being completed, so another store lists its own names.
  local args=() i
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ \${COMP_WORDS[i]} == --root ]]; then args=(--root "\${COMP_WORDS[i+1]}"); fi
    if [[ \${COMP_WORDS[i]} == --root=* ]]; then args=("\${COMP_WORDS[i]}"); fi
  done
  case $1 in
    container) "\${COMP_WORDS[0]}" "\${args[@]}" ${LIST_CONTAINERS} 2>/dev/null ;;
    image) "\${COMP_WORDS[0]}" "\${args[@]}" ${LIST_IMAGES} 2>/dev/null ;;
  esac
}

_minid() {
  [[ -n $ZSH_VERSION ]] && setopt localoptions ksharrays
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i w flags="" operand=none
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      ${GLOBAL_VALUE_FLAGS.join("|")}) ((i++)) ;;
      -*) ;;
      container|image|volume|system|network)
        if [[ -z $cmd ]]; then cmd=$w; elif [[ $cmd == container || $cmd == image || $cmd == volume || $cmd == system || $cmd == network ]]; then cmd="$cmd-$w"; break; fi ;;
      *) if [[ -z $cmd ]]; then cmd=$w; break; elif [[ $cmd == container || $cmd == image || $cmd == volume || $cmd == system || $cmd == network ]]; then cmd="$cmd-$w"; break; fi ;;
    esac
  done
  case $cmd in
    "") _minid_reply "${topWords(ss).join(" ")} --root --storage-driver --insecure-registry --tls-verify --log-level --help --version" "$cur"; return ;;
    container) _minid_reply "${subWords(ss, "container").join(" ")}" "$cur"; return ;;
    image) _minid_reply "${subWords(ss, "image").join(" ")}" "$cur"; return ;;
    volume) _minid_reply "${subWords(ss, "volume").join(" ")}" "$cur"; return ;;
    system) _minid_reply "${subWords(ss, "system").join(" ")}" "$cur"; return ;;
    volume-list) cmd=volume-ls ;;
    volume-remove) cmd=volume-rm ;;
    system-info|system-events) cmd=\${cmd#*-} ;;
    network) _minid_reply "${subWords(ss, "network").join(" ")}" "$cur"; return ;;
    network-list) cmd=network-ls ;;
    network-remove) cmd=network-rm ;;
    container-ls|container-list|container-ps) cmd=ps ;;
    image-ls|image-list) cmd=images ;;
    image-rm|image-remove) cmd=rmi ;;
    container-*|image-*) [[ $cmd == image-inspect || $cmd == container-prune || $cmd == image-prune ]] || cmd=\${cmd#*-} ;;
  esac
  case $cmd in
${cases}
  esac
  if [[ $cur == -* ]]; then
    _minid_reply "$flags" "$cur"
    return
  fi
  local names=""
  case $operand in
    container) names=$(_minid_names container) ;;
    image) names=$(_minid_names image) ;;
    any) names="$(_minid_names container) $(_minid_names image)" ;;
  esac
  _minid_reply "$names" "$cur"
}
complete -F _minid minid
`;
}

function zsh(ss: Spec[]): string {
  // zsh runs the bash function through bashcompinit: one implementation, the same answers.
  return `#compdef minid
# zsh completion for minid (minid completion zsh)
(( $+functions[compdef] )) || { autoload -U compinit && compinit -u }
autoload -U +X bashcompinit && bashcompinit
${bash(ss).replace(/^# bash completion.*\n/, "")}`;
}

function fish(ss: Spec[]): string {
  const lines = [
    "# fish completion for minid (minid completion fish)",
    // The binary and --root of the command line being completed, so another store lists its names.
    "function __minid_run",
    "    set -l t (commandline -opc)",
    "    set -l root",
    "    set -l i (contains -i -- --root $t); and set root --root $t[(math $i + 1)]",
    "    $t[1] $root $argv 2>/dev/null",
    "end",
    `function __minid_containers; __minid_run ${LIST_CONTAINERS}; end`,
    `function __minid_images; __minid_run ${LIST_IMAGES}; end`,
    "complete -c minid -f",
    `complete -c minid -n __fish_use_subcommand -a "${topWords(ss).join(" ")}"`,
    `complete -c minid -n "__fish_seen_subcommand_from container" -a "${subWords(ss, "container").join(" ")}"`,
    `complete -c minid -n "__fish_seen_subcommand_from image" -a "${subWords(ss, "image").join(" ")}"`,
    `complete -c minid -n "__fish_seen_subcommand_from volume" -a "${subWords(ss, "volume").join(" ")}"`,
    `complete -c minid -n "__fish_seen_subcommand_from system" -a "${subWords(ss, "system").join(" ")}"`,
    `complete -c minid -n "__fish_seen_subcommand_from network" -a "${subWords(ss, "network").join(" ")}"`,
  ];
  for (const s of ss) {
    const word = typed(s.name).split(" ").at(-1)!;
    const cond = `"__fish_seen_subcommand_from ${word}"`;
    for (const f of s.flags) lines.push(f.startsWith("--") ? `complete -c minid -n ${cond} -l ${f.slice(2)}` : `complete -c minid -n ${cond} -s ${f.slice(1)}`);
    if (s.operand === "container" || s.operand === "any") lines.push(`complete -c minid -n ${cond} -a "(__minid_containers)"`);
    if (s.operand === "image" || s.operand === "any") lines.push(`complete -c minid -n ${cond} -a "(__minid_images)"`);
  }
  return lines.join("\n") + "\n";
}

/** The script for `shell`, from the command table (cli/main.ts passes it in: no import circle). */
export async function completionScript(shell: string, commands: Record<string, Loader>): Promise<string | undefined> {
  const ss = await specs(commands);
  if (shell === "bash") return bash(ss);
  if (shell === "zsh") return zsh(ss);
  if (shell === "fish") return fish(ss);
  return undefined;
}
