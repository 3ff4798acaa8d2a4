import { httpBuildQuery } from './php/encode.js';

/** A frozen clock for SandboxOptions.now: time moves only when the test calls `sandbox.clock.advance`. */
export const frozenAt =
  (ms = 1_773_759_161_000): (() => number) =>
  () =>
    ms;

export interface RestReply {
  status: number;
  // Tests read answers loosely; the shapes are asserted field by field.
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Calls a REST method the way Bitrix24 clients do: JSON body (b24jssdk), PHP-style form
 * body (CRest, http_build_query) or everything in the query string.
 */
export async function callRest(
  restUrl: string,
  method: string,
  params: Record<string, unknown>,
  format: 'json' | 'form' | 'query' = 'json',
): Promise<RestReply> {
  const url = `${restUrl}${method}`;
  const res =
    format === 'query'
      ? await fetch(`${url}?${httpBuildQuery(params)}`)
      : await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
          body: format === 'json' ? JSON.stringify(params) : httpBuildQuery(params),
        });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** POSTs (or GETs, without a body) JSON to a control route. */
export async function control(baseUrl: string, path: string, body?: unknown, method?: string): Promise<RestReply> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}
