// Web Crypto's getRandomValues is built in: importing node:crypto costs ~8 ms per process on
// the start path of the compiled binary.
function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A 64-hex id like Docker's; the first 12 characters are what users see. */
export function newId(): string {
  return Buffer.from(randomBytes(32)).toString("hex");
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

const ADJ = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "witty", "zealous"];
const NOUN = ["babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "knuth", "lovelace", "maxwell", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak"];

export function randomName(): string {
  const b = randomBytes(2);
  return `${ADJ[b[0]! % ADJ.length]}_${NOUN[b[1]! % NOUN.length]}`;
}

/** Docker's rule for container names. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
