// WWW-Authenticate parsing (RFC 7235): a header may carry several challenges, each a scheme
// followed by comma-separated auth-params (quoted strings may hold commas and escapes) or a
// token68. Registries send `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.

export interface Challenge {
  /** Lower-cased scheme: "bearer", "basic", … */
  scheme: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

export function parseChallenges(header: string | null | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  let s = header;
  let cur: Challenge | undefined;
  const skipWs = () => {
    s = s.replace(/^[\s]+/, "");
  };
  while (true) {
    skipWs();
    while (s.startsWith(",")) {
      s = s.slice(1);
      skipWs();
    }
    if (!s) break;
    const tok = TOKEN.exec(s);
    if (!tok) {
      // Garbage: skip one character so parsing always advances.
      s = s.slice(1);
      continue;
    }
    const word = tok[0];
    const after = s.slice(word.length);
    const eq = /^\s*=\s*/.exec(after);
    // "name=value" continues the current challenge; "name" followed by space starts a new one.
    // A token68 ends in '=' padding, followed by end, comma or whitespace, never by a value.
    if (cur && eq && !/^\s*=+\s*(,|$)/.test(after)) {
      s = after.slice(eq[0].length);
      let value: string;
      if (s.startsWith('"')) {
        let i = 1;
        value = "";
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        s = s.slice(i + 1);
      } else {
        const m = /^[^,\s]*/.exec(s)!;
        value = m[0];
        s = s.slice(value.length);
      }
      cur.params[word.toLowerCase()] = value;
      continue;
    }
    if (cur && /^\s*=+\s*(,|$)/.test(after) && Object.keys(cur.params).length === 0) {
      // token68 (e.g. `Negotiate abc==`): keep it as the "token68" param.
      const m = /^\s*=+/.exec(after)!;
      cur.params.token68 = word + m[0].trim();
      s = after.slice(m[0].length);
      continue;
    }
    cur = { scheme: word.toLowerCase(), params: {} };
    out.push(cur);
    s = after;
  }
  return out;
}

/** The Bearer challenge if the server offers one, else the Basic one, else undefined. */
export function pickChallenge(header: string | null | undefined): Challenge | undefined {
  const all = parseChallenges(header);
  return all.find((c) => c.scheme === "bearer") ?? all.find((c) => c.scheme === "basic");
}
