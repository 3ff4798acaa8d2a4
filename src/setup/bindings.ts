import { connectorCodes } from '../events/registry.js';

/** The events a connector needs bound to the gateway: its own, and ONAPPTEST for the doctor's round trip. */
export const connectorEvents: readonly string[] = [...connectorCodes, 'ONAPPTEST'];

/** A binding as event.get lists it (this application's only: Bitrix24 shows no other's). */
export interface Binding {
  event: string;
  handler: string;
  authType: string;
  offline: boolean;
}

/**
 * Where events go: POSTed to a URL, or kept in the portal's offline queue (then, with `wakeUrl`,
 * ONOFFLINEEVENT is posted there to say something is waiting).
 */
export type Delivery = { url: string } | { offline: true; wakeUrl?: string };

/** event.get's answer, read leniently: `offline` is 0/1 or a boolean, `auth_type` a string or a number. */
export function readBindings(result: unknown): Binding[] {
  if (!Array.isArray(result)) return [];
  return result
    .filter((b): b is Record<string, unknown> => typeof b === 'object' && b !== null)
    .map((b) => ({
      event: String(b.event ?? '').toUpperCase(),
      handler: String(b.handler ?? ''),
      authType: String(b.auth_type ?? '0'),
      offline: b.offline === 1 || b.offline === '1' || b.offline === true,
    }));
}

/** What to bind and unbind so that each event is delivered as asked, and nowhere else. */
export interface BindingPlan {
  /** Events already delivered as asked. */
  kept: string[];
  missing: string[];
  /** Bindings of these events that deliver elsewhere: to another URL, or online when offline is asked (and the other way round). */
  stale: Binding[];
}

/**
 * Compares the application's bindings with what `delivery` needs for `events`. Only those events
 * are looked at: bindings of any other event (a bot's, your own) are never stale.
 */
export function planBindings(events: readonly string[], bindings: readonly Binding[], delivery: Delivery): BindingPlan {
  const plan: BindingPlan = { kept: [], missing: [], stale: [] };
  const wanted = (b: Binding) => ('offline' in delivery ? b.offline : !b.offline && b.handler === delivery.url);
  for (const event of events) {
    const mine = bindings.filter((b) => b.event === event);
    if (mine.some(wanted)) plan.kept.push(event);
    else plan.missing.push(event);
    plan.stale.push(...mine.filter((b) => !wanted(b)));
  }
  return plan;
}
