import { GatewayError } from '../errors.js';
import type { ConnectorStateStore } from './state/types.js';
import type { Store } from './types.js';

/** Every method a Store has: the multi-instance guarantees (rateSlot, withPortalLock, onNewEvents) included. */
const STORE_METHODS = [
  'append',
  'getEvent',
  'listEvents',
  'countEvents',
  'getPortal',
  'listPortals',
  'savePortalTokens',
  'claim',
  'renewLeases',
  'finish',
  'attempts',
  'requeue',
  'browseEvents',
  'eventStatuses',
  'activity',
  'portalActivity',
  'pruneEvents',
  'enqueueStatuses',
  'claimStatuses',
  'renewStatuses',
  'finishStatuses',
  'countStatuses',
  'appendCustomerAction',
  'claimCustomerActions',
  'renewCustomerActions',
  'finishCustomerActions',
  'releaseCustomerActions',
  'listCustomerActions',
  'countCustomerActions',
  'requeueCustomerActions',
  'keepPullCursors',
  'retirePullCursors',
  'claimPullCursors',
  'renewPullCursors',
  'appendPulled',
  'finishPullCursor',
  'listPullCursors',
  'wakePullCursors',
  'requeuePullCursors',
  'noteRefusedTest',
  'refusedTestAt',
  'rateLevel',
  'rateSlot',
  'withPortalLock',
  'onNewEvents',
  'ping',
  'close',
] as const satisfies readonly (keyof Store)[];

const STATE_METHODS = [
  'apply',
  'applied',
  'message',
  'messages',
  'chat',
  'chatByImId',
  'chats',
  'dialogs',
  'lines',
  'recordCustomer',
  'recordDelivered',
  'customerMessage',
  'conversation',
] as const satisfies readonly (keyof ConnectorStateStore)[];

/**
 * A store given to the Gateway, refused unless it is complete: one without, say, `withPortalLock`
 * would silently spend a refresh token twice across instances, one without `state` would lose the
 * connector state. The error names everything missing.
 */
export function completeStore(store: Store): Store {
  const s = store as unknown as Record<string, unknown> | null;
  const missing: string[] = STORE_METHODS.filter((m) => typeof s?.[m] !== 'function');
  const state = s?.state as Record<string, unknown> | undefined;
  if (typeof state !== 'object' || state === null) missing.push('state');
  else missing.push(...STATE_METHODS.filter((m) => typeof state[m] !== 'function').map((m) => `state.${m}`));
  if (missing.length > 0) {
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `The store given as \`db\` is incomplete: it has no ${missing.join(', ')} (every method of Store is required; see src/store/README.md)`,
    );
  }
  return store;
}
