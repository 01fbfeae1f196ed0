// A small structural validator for the JSON records minid keeps on disk (container state,
// image records). A record read from disk is data from the past, written by an older minid,
// cut short by a crash or a full disk, or edited by hand: it is checked against one schema
// where it is read, and the rest of the code may then trust its shape.

export type Schema<T> = {
  /** The reason `v` does not match (with its path), or undefined when it does. */
  check(v: unknown, path: string): string | undefined;
  /**
   * Whether `v` matches: the same test without building a path or a message, which is what
   * reading every record costs (`ps -a` reads them all: 1,000 records checked with paths took
   * 40-150 ms here, without them a few ms). check() runs only for a record that fails.
   */
  ok(v: unknown): boolean;
  /** Phantom: the TypeScript type the schema describes. */
  readonly _t?: T;
};

export type Infer<S> = S extends Schema<infer T> ? T : never;

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const expected = (path: string, what: string, v: unknown) => `${path || "record"}: expected ${what}, found ${typeOf(v)}`;

/** A schema from its test alone; check() words the failure as `expected what`. */
function leaf<T>(ok: (v: unknown) => boolean, what: string): Schema<T> {
  return { ok, check: (v, p) => (ok(v) ? undefined : expected(p, what, v)) };
}

export const str: Schema<string> = leaf((v) => typeof v === "string", "a string");
export const num: Schema<number> = leaf((v) => typeof v === "number" && Number.isFinite(v), "a number");
export const bool: Schema<boolean> = leaf((v) => typeof v === "boolean", "a boolean");
/** Anything (kept as it is: extension data whose readers check it themselves). */
export const any: Schema<unknown> = { check: () => undefined, ok: () => true };

export function oneOf<const V extends readonly (string | number)[]>(...values: V): Schema<V[number]> {
  return {
    ok: (v) => values.includes(v as never),
    check: (v, p) => (values.includes(v as never) ? undefined : `${p || "record"}: expected one of ${values.join(", ")}, found ${JSON.stringify(v)}`),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function arr<T>(item: Schema<T>): Schema<T[]> {
  return {
    ok(v) {
      if (!Array.isArray(v)) return false;
      for (let i = 0; i < v.length; i++) if (!item.ok(v[i])) return false;
      return true;
    },
    check(v, p) {
      if (!Array.isArray(v)) return expected(p, "an array", v);
      for (let i = 0; i < v.length; i++) {
        const e = item.check(v[i], `${p}[${i}]`);
        if (e) return e;
      }
      return undefined;
    },
  };
}

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return { ok: (v) => v === null || s.ok(v), check: (v, p) => (v === null ? undefined : s.check(v, p)) };
}

/** A map with string keys and values of one schema. */
export function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return {
    ok(v) {
      if (!isObject(v)) return false;
      for (const k in v) if (!value.ok(v[k])) return false;
      return true;
    },
    check(v, p) {
      if (typeOf(v) !== "object") return expected(p, "an object", v);
      for (const [k, e] of Object.entries(v as object)) {
        const err = value.check(e, `${p}.${k}`);
        if (err) return err;
      }
      return undefined;
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type ObjOf<R extends Shape, O extends Shape> = { [K in keyof R]: Infer<R[K]> } & { [K in keyof O]?: Infer<O[K]> };

/** An object with `required` and `optional` fields; other fields are allowed and kept. */
export function obj<R extends Shape, O extends Shape = {}>(required: R, optional?: O): Schema<ObjOf<R, O>> {
  const req = Object.entries(required);
  const opt = Object.entries(optional ?? {});
  return {
    ok(v) {
      if (!isObject(v)) return false;
      for (const [k, s] of req) if (!(k in v) || !s.ok(v[k])) return false;
      for (const [k, s] of opt) if (v[k] !== undefined && !s.ok(v[k])) return false;
      return true;
    },
    check(v, p) {
      if (typeOf(v) !== "object") return expected(p, "an object", v);
      const o = v as Record<string, unknown>;
      for (const [k, s] of Object.entries(required)) {
        if (!(k in o)) return `${p ? p + "." : ""}${k}: missing`;
        const e = s.check(o[k], `${p ? p + "." : ""}${k}`);
        if (e) return e;
      }
      for (const [k, s] of Object.entries(optional ?? {})) {
        if (o[k] === undefined) continue;
        const e = s.check(o[k], `${p ? p + "." : ""}${k}`);
        if (e) return e;
      }
      return undefined;
    },
  };
}

/** A record that failed to parse or to match its schema. */
export class BadRecordError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "BadRecordError";
  }
}

/**
 * Parse `text` (the content of `path`) as JSON of shape `schema`. Throws BadRecordError with
 * a one-line reason (truncated, empty, wrong shape) rather than a parser's or a later
 * `undefined is not an object`.
 */
export function parseRecord<T>(schema: Schema<T>, text: string, path: string): T {
  if (!text.trim()) throw new BadRecordError(path, "the file is empty");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // (the parser's own words name a position, not what happened)
    throw new BadRecordError(path, "not valid JSON (cut short?)");
  }
  if (schema.ok(v)) return v as T;
  // ok() and check() agree; should they not, the record is refused with check()'s words or,
  // failing those, a plain reason, never accepted.
  throw new BadRecordError(path, schema.check(v, "") ?? "does not match its schema");
}
