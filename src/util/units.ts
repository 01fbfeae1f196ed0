// Docker's unit parsing for resource flags (-m, --memory-swap, --cpus, --shm-size).
// Errors carry the exact one-line text the docker CLI prints, so users see familiar messages.

/** A bad flag value. The CLI should print `message` and exit 125, as docker does. */
export class InvalidFlagError extends Error {
  constructor(
    readonly flag: string,
    readonly value: string,
    reason: string,
  ) {
    super(`invalid argument "${value}" for "${flag}" flag: ${reason}`);
    this.name = "InvalidFlagError";
  }
}

// Binary multipliers, as go-units' RAMInBytes uses for memory flags ("1k" = 1024).
const MULT: Record<string, number> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * "512m" → 536870912. Accepts what go-units' RAMInBytes accepts: a non-negative number
 * (Go float syntax, so "1e3" too), an optional space, then b / k / m / g / t / p optionally
 * followed by "b" or "ib", in any case ("1.5G", "512MiB", "100kb"). A plain number is bytes.
 */
export function parseBytes(value: string, flag = "-m, --memory"): number {
  const m = /^((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?) ?([a-z]*)$/i.exec(value);
  if (!m) throw new InvalidFlagError(flag, value, `invalid size: '${value}'`);
  let size = Number(m[1]);
  const sfx = m[2]!.toLowerCase();
  if (sfx !== "" && sfx !== "b") {
    const mult = MULT[sfx[0]!];
    const rest = sfx.slice(1);
    if (mult === undefined || !(rest === "" || rest === "b" || rest === "ib")) {
      throw new InvalidFlagError(flag, value, `invalid size: '${value}'`);
    }
    size *= mult;
  }
  // Go truncates the float64 product to int64; fractional bytes are dropped the same way.
  const bytes = Math.floor(size);
  if (!Number.isSafeInteger(bytes)) throw new InvalidFlagError(flag, value, `invalid size: '${value}'`);
  return bytes;
}

/** --memory-swap: like parseBytes, plus "-1" meaning unlimited swap (returned as -1). */
export function parseMemorySwap(value: string, flag = "--memory-swap"): number {
  if (value === "-1") return -1;
  return parseBytes(value, flag);
}

/**
 * "--cpus 0.5" → 500000000 nano-CPUs. Parsed exactly (no float rounding), like docker's
 * big.Rat-based parser: decimals, exponents ("5e-1") and fractions ("1/2") are accepted;
 * more precision than 1e-9 CPU is an error, as in docker. 0 means "no limit".
 */
export function parseCpus(value: string, flag = "--cpus"): number {
  const rat = parseRational(value.trim());
  if (!rat) throw new InvalidFlagError(flag, value, `failed to parse ${value} as a rational number`);
  const [num, den] = rat;
  if (num < 0n) throw new InvalidFlagError(flag, value, "CPUs must be a non-negative number");
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new InvalidFlagError(flag, value, "value is too precise");
  const nano = scaled / den;
  if (nano > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidFlagError(flag, value, "value is too large");
  }
  return Number(nano);
}

/** [numerator, denominator>0] for "1.25", "-3", "5e-1", "3/2"; null when malformed. */
function parseRational(s: string): [bigint, bigint] | null {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  if (frac) {
    const den = BigInt(frac[2]!);
    return den === 0n ? null : [BigInt(frac[1]!), den];
  }
  const dec = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!dec) return null;
  const [, sign, int = "", fr = "", exp] = dec;
  if (int === "" && fr === "") return null;
  let num = BigInt((int || "0") + fr);
  let den = 10n ** BigInt(fr.length);
  const e = exp ? Number(exp) : 0;
  if (Math.abs(e) > 400) return null; // absurd exponents would make huge BigInts
  if (e > 0) num *= 10n ** BigInt(e);
  else if (e < 0) den *= 10n ** BigInt(-e);
  return [sign === "-" ? -num : num, den];
}
