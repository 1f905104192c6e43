/**
 * A stored object's body as a load hands it over: its text, or, on SQLite, its bytes in the one
 * buffer that holds every body of the cluster loaded (emulator.store.sqlite.ts), decoded when the
 * object is first read whole. A cluster's bodies then reach memory as one allocation outside V8's
 * heap instead of a hundred strings in it, which the young generation copied and promoted while
 * the cluster stayed loaded; most are never decoded (the Events a change does not read). A
 * decoded text is a string of its own (not a slice of a larger one). An object parsed from its
 * bytes keeps them (its place in the buffer), not the text decoded to parse it, which then dies
 * young: most objects a change reads it replaces before anything answers them, and the texts kept
 * beside them were ≈ 11 % of what outlived a change's scavenges (objects.ts `parseStored`;
 * docs/performance.md, "Twenty-ninth round"). Those objects leave memory with their cluster, and
 * the buffer with them (docs/performance.md, "Twenty-fourth round").
 */
export class BodyBytes {
  constructor(
    readonly bytes: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  text(): string {
    return this.bytes.toString('utf8', this.start, this.end);
  }
}

export type StoredBody = string | BodyBytes;

/** The body's text: as stored, or decoded from its bytes. */
export const bodyText = (body: StoredBody): string => (typeof body === 'string' ? body : body.text());
