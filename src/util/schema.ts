// A small structural validator for the JSON records minid keeps on disk (container state,
// image records). A record read from disk is data from the past, written by an older minid,
// cut short by a crash or a full disk, or edited by hand: it is checked against one schema
// where it is read, and the rest of the code may then trust its shape.

export type Schema<T> = {
  /** The reason `v` does not match (with its path), or undefined when it does. */
  check(v: unknown, path: string): string | undefined;
  /** Phantom: the TypeScript type the schema describes. */
  readonly _t?: T;
};

export type Infer<S> = S extends Schema<infer T> ? T : never;

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const expected = (path: string, what: string, v: unknown) => `${path || "record"}: expected ${what}, found ${typeOf(v)}`;

export const str: Schema<string> = { check: (v, p) => (typeof v === "string" ? undefined : expected(p, "a string", v)) };
export const num: Schema<number> = {
  check: (v, p) => (typeof v === "number" && Number.isFinite(v) ? undefined : expected(p, "a number", v)),
};
export const bool: Schema<boolean> = { check: (v, p) => (typeof v === "boolean" ? undefined : expected(p, "a boolean", v)) };
/** Anything (kept as it is: extension data whose readers check it themselves). */
export const any: Schema<unknown> = { check: () => undefined };

export function oneOf<const V extends readonly (string | number)[]>(...values: V): Schema<V[number]> {
  return {
    check: (v, p) => (values.includes(v as never) ? undefined : `${p || "record"}: expected one of ${values.join(", ")}, found ${JSON.stringify(v)}`),
  };
}

export function arr<T>(item: Schema<T>): Schema<T[]> {
  return {
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
  return { check: (v, p) => (v === null ? undefined : s.check(v, p)) };
}

/** A map with string keys and values of one schema. */
export function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return {
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
  return {
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
  const err = schema.check(v, "");
  if (err) throw new BadRecordError(path, err);
  return v as T;
}
