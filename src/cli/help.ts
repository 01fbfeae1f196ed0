// Help as the Docker CLI prints it: a Usage line, the description, the command's aliases and
// its options with short and long forms and a value type, aligned in one column.
import type { CommandDef } from "citty";

// Usage lines Docker words differently from what minid's descriptions carry.
const USAGE: Record<string, string> = {
  ps: "ps [OPTIONS]",
  version: "version [OPTIONS]",
  stats: "stats [OPTIONS] [CONTAINER...]",
  container: "container COMMAND",
  login: "login [OPTIONS] [SERVER]",
  logout: "logout [SERVER]",
  completion: "completion bash|zsh|fish",
};

// The other names each command answers to (main.ts routes `container X` and `image X` too).
const CONTAINER_CMDS = ["create", "cp", "diff", "pause", "unpause", "rename", "top", "update", "run", "rm", "exec", "logs", "start", "stop", "restart", "kill", "wait", "attach", "commit", "export", "stats", "port"];
const IMAGE_CMDS = ["import", "pull", "push", "save", "load", "tag", "history"];
export function aliasesOf(name: string): string[] {
  if (name === "ps") return ["container ls", "container list", "container ps", "ps"];
  if (name === "images") return ["image ls", "image list", "images"];
  if (name === "rmi") return ["image rm", "image remove", "rmi"];
  if (name === "network-ls") return ["network ls", "network list"];
  if (name === "network-rm") return ["network rm", "network remove"];
  if (name === "volume-ls") return ["volume ls", "volume list"];
  if (name === "info") return ["system info", "info"];
  if (name === "events") return ["system events", "events"];
  if (name === "volume-rm") return ["volume rm", "volume remove"];
  if (CONTAINER_CMDS.includes(name)) return [`container ${name}`, name];
  if (IMAGE_CMDS.includes(name)) return [`image ${name}`, name];
  return [];
}

interface FlagDef {
  type?: string;
  alias?: string | string[];
  description?: string;
  multiple?: boolean;
}

/** One `  -a, --all   Show all…` line per flag, as pflag's FlagUsages lays them out. */
export function optionLines(args: Record<string, FlagDef>): string[] {
  const rows: [string, string][] = [];
  for (const [name, def] of Object.entries(args).sort(([a], [b]) => a.localeCompare(b))) {
    if (def.type === "positional") continue;
    const aliases = Array.isArray(def.alias) ? def.alias : def.alias ? [def.alias] : [];
    const short = aliases.find((a) => a.length === 1);
    const longs = [name, ...aliases.filter((a) => a.length > 1)];
    const type = def.type === "boolean" ? "" : def.multiple ? " list" : " string";
    const spec = `${short ? `-${short}, ` : "    "}${longs.map((l) => `--${l}`).join(", ")}${type}`;
    rows.push([spec, def.description ?? ""]);
  }
  const w = Math.max(0, ...rows.map(([s]) => s.length));
  return rows.map(([s, d]) => `  ${s.padEnd(w)}   ${d}`.trimEnd());
}

export function renderHelp(name: string, cmd: CommandDef<any>): string {
  const meta = (cmd.meta ?? {}) as { description?: string };
  const full = meta.description ?? "";
  // Descriptions end with "(minid USAGE)"; the usage moves to the Usage line.
  const m = /^(.*?)\s*\((minid [^()]*(?:\([^()]*\)[^()]*)*)\)\s*$/.exec(full);
  const description = m ? m[1]! : full;
  const displayName = name === "image-inspect" ? "image inspect" : name === "container-prune" ? "container prune" : name.replace(/^(volume|system|image|container|network)-/, "$1 ");
  const usage = USAGE[name] ? `minid ${USAGE[name]}` : m ? m[2]!.replace(/;.*$/, "") : `minid ${displayName} [OPTIONS]`;
  let out = `\nUsage:  ${usage}\n\n${description}\n`;
  const aliases = aliasesOf(name);
  if (aliases.length) out += `\nAliases:\n  ${aliases.map((a) => `minid ${a}`).join(", ")}\n`;
  const opts = optionLines((cmd.args ?? {}) as Record<string, FlagDef>);
  if (opts.length) out += `\nOptions:\n${opts.join("\n")}\n`;
  return out;
}
