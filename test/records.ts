import type { NewEvent, PortalRecord } from '../src/store/types.js';

/*
 * Records to hand a store in tests: every field filled with a plain value, so that a test names
 * only the fields it is about.
 */

/** A stored-as-is event of portal m1: pending, no handler, an empty body. */
export const newEvent = (over: Partial<NewEvent> & Pick<NewEvent, 'dedupKey'>): NewEvent => ({
  memberId: 'm1',
  code: 'ONAPPINSTALL',
  known: true,
  status: 'pending',
  handlerId: null,
  ts: null,
  orderKey: null,
  receivedAt: 1,
  event: '{}',
  rawBody: '',
  contentType: 'form',
  error: null,
  ...over,
});

/** Portal m1 installed at 1, with a token pair that expired at 1 and no endpoints. */
export const portalRecord = (over: Partial<PortalRecord> = {}): PortalRecord => ({
  memberId: 'm1',
  domain: 'a.bitrix24.com',
  applicationToken: 'app-token',
  accessToken: 'a',
  refreshToken: 'r',
  expiresAt: 1,
  clientEndpoint: null,
  serverEndpoint: null,
  scope: null,
  status: 'L',
  installedAt: 1,
  uninstalledAt: null,
  updatedAt: 1,
  ...over,
});
