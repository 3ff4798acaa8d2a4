/** Hard limits on what a body may hold. Each one is refused with its own error, never truncated. */
export interface DecodeLimits {
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most `key=value` pairs in a form body, or leaf values in a JSON body. */
  maxParams: number;
  /** Deepest nesting: brackets after the top-level name, or JSON levels below the top. */
  maxDepth: number;
  /** Largest numeric key or `[]` position, in absolute value. Larger ones are refused, not turned into strings. */
  maxIndex: number;
}

export const defaultLimits: Readonly<DecodeLimits> = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  // A Bitrix24 event with 50 messages stays well under 1,000 pairs; 10,000 leaves room and bounds work.
  maxParams: 10_000,
  // Bitrix24 events nest 5 levels deep; PHP itself stops at 64.
  maxDepth: 32,
  // Bitrix24 ids are 32-bit database keys, and ids appear as keys (data[BOT][571], MENTIONED_LIST[100234]).
  maxIndex: 2_147_483_647,
});

export const resolveLimits = (partial?: Partial<DecodeLimits>): DecodeLimits => ({ ...defaultLimits, ...partial });
