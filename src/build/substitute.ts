// Variable substitution and word splitting as Docker's Dockerfile frontend does it (its
// "shell lexer"): $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word},
// ${VAR:?msg}, ${VAR?msg}, ${VAR#pat}, ${VAR##pat}, ${VAR%pat}, ${VAR%%pat}; single quotes are
// literal, double quotes group and still expand, the escape character quotes the next one.
// It applies only to the instructions Docker expands (ADD COPY ENV EXPOSE FROM LABEL
// STOPSIGNAL USER VOLUME WORKDIR ARG ONBUILD's trigger when it runs): RUN, CMD and ENTRYPOINT
// are left to the shell in the container.

export class SubstitutionError extends Error {}

export type Vars = (name: string) => string | undefined;

export function varsOf(map: Map<string, string> | Record<string, string>): Vars {
  if (map instanceof Map) return (n) => map.get(n);
  return (n) => (Object.prototype.hasOwnProperty.call(map, n) ? map[n] : undefined);
}

/** One word: quotes removed, variables expanded (no splitting: for single-argument places). */
export function processWord(word: string, vars: Vars, escape = "\\"): string {
  return new Lexer(word, vars, escape).run(false).join("");
}

/** Split into words on unquoted whitespace, quotes removed, variables expanded (no re-split of values). */
export function processWords(text: string, vars: Vars, escape = "\\"): string[] {
  return new Lexer(text, vars, escape).run(true);
}

class Lexer {
  private i = 0;
  constructor(
    private s: string,
    private vars: Vars,
    private esc: string,
  ) {}

  run(split: boolean): string[] {
    const words: string[] = [];
    let cur = "";
    let inWord = false;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (split && /\s/.test(c)) {
        if (inWord) words.push(cur);
        cur = "";
        inWord = false;
        this.i++;
        continue;
      }
      inWord = true;
      if (c === "'") {
        cur += this.singleQuoted();
      } else if (c === '"') {
        cur += this.doubleQuoted();
      } else if (c === this.esc) {
        this.i++;
        if (this.i < this.s.length) cur += this.s[this.i++];
        else cur += this.esc;
      } else if (c === "$") {
        cur += this.dollar();
      } else {
        cur += c;
        this.i++;
      }
    }
    if (inWord) words.push(cur);
    return words;
  }

  private singleQuoted(): string {
    this.i++; // '
    const end = this.s.indexOf("'", this.i);
    if (end < 0) throw new SubstitutionError("unexpected end of statement while looking for matching single-quote");
    const v = this.s.slice(this.i, end);
    this.i = end + 1;
    return v;
  }

  private doubleQuoted(): string {
    this.i++; // "
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === this.esc) {
        // In double quotes the escape only quotes ", $, itself (and a newline).
        const n = this.s[this.i + 1];
        if (n === '"' || n === "$" || n === this.esc || n === "\n") {
          out += n;
          this.i += 2;
          continue;
        }
        out += c;
        this.i++;
        continue;
      }
      if (c === "$") {
        out += this.dollar();
        continue;
      }
      out += c;
      this.i++;
    }
    throw new SubstitutionError("unexpected end of statement while looking for matching double-quote");
  }

  private dollar(): string {
    this.i++; // $
    const c = this.s[this.i];
    if (c === "{") return this.braced();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) {
      // $1, $@ and friends are not Dockerfile variables: Docker expands positional-looking
      // names to "" only when braced; a bare "$" followed by other text stays as written.
      if (c !== undefined && /[0-9]/.test(c)) {
        this.i++;
        return "";
      }
      return "$";
    }
    this.i += m[0].length;
    return this.vars(m[0]) ?? "";
  }

  private braced(): string {
    this.i++; // {
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9]+/.exec(this.s.slice(this.i));
    if (!m) throw new SubstitutionError(`missing ':' in substitution: bad variable name in "${this.s}"`);
    const name = m[0];
    this.i += name.length;
    const value = this.vars(name);
    if (this.s[this.i] === "}") {
      this.i++;
      return value ?? "";
    }
    let op = this.s[this.i] ?? "";
    this.i++;
    if (op === ":" ) {
      const n = this.s[this.i];
      if (n !== "-" && n !== "+" && n !== "?") throw new SubstitutionError(`unsupported modifier (:${n ?? ""}) in substitution`);
      op += n;
      this.i++;
    } else if ((op === "#" || op === "%") && this.s[this.i] === op) {
      op += op;
      this.i++;
    }
    const word = this.wordUntilBrace();
    switch (op) {
      case ":-":
        return value ? value : word;
      case "-":
        return value !== undefined ? value : word;
      case ":+":
        return value ? word : "";
      case "+":
        return value !== undefined ? word : "";
      case ":?":
        if (!value) throw new SubstitutionError(`${name}: ${word || "is not allowed to be unset"}`);
        return value;
      case "?":
        if (value === undefined) throw new SubstitutionError(`${name}: ${word || "is not allowed to be unset"}`);
        return value;
      case "#":
      case "##":
        return trimPattern(value ?? "", word, "prefix", op.length === 2);
      case "%":
      case "%%":
        return trimPattern(value ?? "", word, "suffix", op.length === 2);
      default:
        throw new SubstitutionError(`unsupported modifier (${op}) in substitution`);
    }
  }

  /** The word of a ${name<op>word}: expanded itself, up to the matching brace. */
  private wordUntilBrace(): string {
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === "}") {
        this.i++;
        return out;
      }
      if (c === "'") out += this.singleQuoted();
      else if (c === '"') out += this.doubleQuoted();
      else if (c === this.esc) {
        out += this.s[this.i + 1] ?? "";
        this.i += 2;
      } else if (c === "$") out += this.dollar();
      else {
        out += c;
        this.i++;
      }
    }
    throw new SubstitutionError(`syntax error: missing '}' in "${this.s}"`);
  }
}

/** Shell-style ${v#pat}: remove the shortest/longest prefix (or suffix) matching the glob. */
function trimPattern(value: string, pat: string, side: "prefix" | "suffix", longest: boolean): string {
  const re = new RegExp(`^${globToRegex(pat)}$`, "s");
  const n = value.length;
  if (side === "prefix") {
    const order = longest ? range(n, -1) : range(0, n + 1);
    for (const k of order) if (re.test(value.slice(0, k))) return value.slice(k);
  } else {
    const order = longest ? range(0, n + 1) : range(n, -1);
    for (const k of order) if (re.test(value.slice(k))) return value.slice(0, k);
  }
  return value;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  if (from <= to) for (let k = from; k < to; k++) out.push(k);
  else for (let k = from; k > to; k--) out.push(k);
  return out;
}

function globToRegex(pat: string): string {
  let out = "";
  for (const c of pat) {
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else out += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return out;
}
