// .dockerignore as Docker reads it (moby's patternmatcher): one pattern a line, `#` lines are
// comments, surrounding whitespace is dropped, patterns are cleaned paths relative to the
// context root (a leading "/" means the same), `*` `?` `[...]` match within one path
// component, `**` any number of components, `!` makes an exception. The last pattern that
// matches a path (or one of its parent directories) decides.

interface Pattern {
  exclusion: boolean;
  re: RegExp;
  /** The cleaned pattern text (for the "does an exception reach under this dir" check). */
  text: string;
}

export class IgnoreMatcher {
  private patterns: Pattern[];
  constructor(lines: string[]) {
    this.patterns = [];
    for (let raw of lines) {
      if (raw.startsWith("#")) continue;
      raw = raw.trim();
      if (!raw) continue;
      let exclusion = false;
      if (raw.startsWith("!")) {
        exclusion = true;
        raw = raw.slice(1).trim();
        if (!raw) throw new Error(`illegal exclusion pattern: "!"`);
      }
      const text = cleanPath(raw);
      this.patterns.push({ exclusion, re: patternRegex(text), text });
    }
  }

  static parse(text: string): IgnoreMatcher {
    return new IgnoreMatcher(text.split("\n").map((l) => l.replace(/\r$/, "")));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** Whether `rel` (a "/"-separated path relative to the context) is left out. */
  ignored(rel: string): boolean {
    const path = cleanPath(rel);
    const parents = parentPaths(path);
    let matched = false;
    for (const p of this.patterns) {
      // A pattern that cannot flip the result is not consulted (as patternmatcher does).
      if (p.exclusion !== matched) continue;
      let m = p.re.test(path);
      if (!m) for (const parent of parents) if (p.re.test(parent)) { m = true; break; }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}

/** filepath.Clean for a relative "/"-separated path, without the leading "/". */
export function cleanPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/") || ".";
}

function parentPaths(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** Go's filepath.Match syntax plus `**`, as one anchored regular expression. */
export function patternRegex(pattern: string): RegExp {
  let re = "^";
  const s = pattern;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "*") {
      if (s[i + 1] === "*") {
        i++;
        // "**/" also matches nothing; a trailing "**" matches everything below.
        if (s[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = s.indexOf("]", i + 2);
      if (end < 0) throw new Error(`syntax error in pattern: ${pattern}`);
      let cls = s.slice(i + 1, end);
      if (cls.startsWith("^")) cls = "^" + cls.slice(1);
      else if (cls.startsWith("!")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < s.length) {
      re += escapeRe(s[++i]!);
    } else re += escapeRe(c);
  }
  return new RegExp(re + "$", "s");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
