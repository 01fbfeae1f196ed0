import { readFileSync } from "node:fs";

// Command-line words are bytes, not text: a container must get exactly the bytes its user
// typed, even when they are not UTF-8 (`printf %s $'\xff\xfe'`). JS strings cannot hold such
// bytes, and decoding them as UTF-8 turns each bad byte into U+FFFD for good. So minid decodes
// words with "surrogateescape" (PEP 383): valid UTF-8 becomes its characters, every byte that
// is not part of a valid sequence becomes the lone surrogate U+DC00+byte, which no valid UTF-8
// can produce. The strings pass through flag parsing, state.json and the init spec unchanged
// (JSON escapes lone surrogates as \udcXX), and argBytes() turns them back into the bytes.

/** Bytes → string, lossless: invalid UTF-8 bytes become U+DC80..U+DCFF. */
export function decodeArgBytes(b: Uint8Array): string {
  let out = "";
  let i = 0;
  const esc = (n: number) => {
    for (let k = 0; k < n; k++) out += String.fromCharCode(0xdc00 + b[i + k]!);
    i += n;
  };
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      // Runs of ASCII in one go: most words are nothing else.
      let j = i + 1;
      while (j < b.length && b[j]! < 0x80) j++;
      out += String.fromCharCode(...b.subarray(i, j));
      i = j;
      continue;
    }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || i + len > b.length) {
      esc(1);
      continue;
    }
    let cp = c & (0xff >> (len + 1));
    let ok = true;
    for (let k = 1; k < len; k++) {
      const t = b[i + k]!;
      if ((t & 0xc0) !== 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (t & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    const min = [0, 0, 0x80, 0x800, 0x10000][len]!;
    if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      esc(1);
      continue;
    }
    out += String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/** The inverse of decodeArgBytes: lone U+DC80..U+DCFF are bytes again, the rest UTF-8. */
export function argBytes(s: string): Buffer {
  // Fast path: nothing escaped.
  if (!/[\udc80-\udcff]/.test(s)) return Buffer.from(s, "utf8");
  const parts: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        for (const x of Buffer.from(s.slice(i, i + 2), "utf8")) parts.push(x);
        i++;
        continue;
      }
    }
    if (u >= 0xdc80 && u <= 0xdcff) parts.push(u - 0xdc00);
    else for (const x of Buffer.from(s[i]!, "utf8")) parts.push(x);
  }
  return Buffer.from(parts);
}

/**
 * The words of this process's command line as the kernel holds them (/proc/self/cmdline),
 * decoded losslessly, for the last `argv.length` words. `argv` is what the runtime made of
 * them (bad bytes already U+FFFD); if the two do not line up, `argv` is returned unchanged.
 */
export function losslessArgv(argv: string[], cmdline?: Uint8Array): string[] {
  let raw: Uint8Array;
  try {
    raw = cmdline ?? readFileSync("/proc/self/cmdline");
  } catch {
    return argv;
  }
  const words: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      words.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) words.push(raw.subarray(start));
  if (words.length < argv.length) return argv;
  const tail = words.slice(words.length - argv.length);
  const lossy = new TextDecoder();
  const squash = (s: string) => s.replace(/\ufffd+/g, "\ufffd");
  for (let i = 0; i < argv.length; i++) {
    if (squash(lossy.decode(tail[i]!)) !== squash(argv[i]!)) return argv;
  }
  return tail.map(decodeArgBytes);
}
