import type { SandboxCore } from '../core.js';
import type { Portal } from '../portal.js';
import type { Params } from '../rest/params.js';

/** What a REST method sees of the call. */
export interface MethodContext {
  core: SandboxCore;
  portal: Portal;
  userId: number;
  /** The incoming webhook the call came through (its code); absent for an OAuth call. */
  hook?: string;
  /** Parameters with top-level keys upper-cased, as Bitrix24 reads them. */
  params: Params;
  /** Parameters as sent (without `auth`). */
  raw: Params;
}

export type MethodHandler = (ctx: MethodContext) => unknown;
