/**
 * Internal: a small bounded LRU keyed by the exact bytes of its input. Parsing a certificate or
 * importing a public key is a pure function of the bytes, so a hit returns what a fresh parse of
 * the same bytes would; two inputs that differ in any byte never share an entry (the key is the
 * byte string itself, not a digest of it). Failures are never cached.
 */
export class BytesKeyedCache<V> {
  readonly #entries = new Map<string, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The key for `bytes`: one latin1 character per byte, so equal keys mean equal bytes. */
  static keyOf(bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    // Most recently used last: Map keeps insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }
}
