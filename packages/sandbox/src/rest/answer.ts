/** The `time` block every Bitrix24 REST answer carries. */
export interface TimeBlock {
  start: number;
  finish: number;
  duration: number;
  processing: number;
  date_start: string;
  date_finish: string;
  operating_reset_at: number;
  operating: number;
}

/** ISO 8601 with a numeric offset and no fraction, as Bitrix24 writes date_start. */
const isoDate = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');

export function timeBlock(
  startMs: number,
  finishMs: number,
  processingMs: number,
  operating: { operating: number; resetAt: number },
): TimeBlock {
  return {
    start: startMs / 1000,
    finish: finishMs / 1000,
    duration: (finishMs - startMs) / 1000,
    processing: processingMs / 1000,
    date_start: isoDate(startMs),
    date_finish: isoDate(finishMs),
    operating_reset_at: operating.resetAt,
    operating: operating.operating,
  };
}

/** An error answer: `{"error": code, "error_description": ...}` with its HTTP status. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    /** Extra top-level fields for the error body (the sandbox adds `time` to OPERATION_TIME_LIMIT). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${code}: ${description}`);
    this.name = 'RestError';
  }

  body(): Record<string, unknown> {
    return { error: this.code, error_description: this.description, ...this.extra };
  }
}

export const argumentError = (description: string): RestError => new RestError(400, 'ERROR_ARGUMENT', description);
export const nullOrEmpty = (name: string): RestError => argumentError(`Argument '${name}' is null or empty`);

/** A list method's answer: the page as `result`, with `total` and, when more follow, `next` beside it. */
export class Paged {
  constructor(
    readonly result: unknown[],
    readonly total: number,
    readonly next: number | undefined,
  ) {}
}
