/**
 * Options over their defaults, where an option given as `undefined` keeps its default: a plain
 * spread would put the `undefined` in (`{ concurrency: undefined }` made a worker claim NaN events).
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out as D & O;
}
