import { GatewayError } from '../errors.js';

/**
 * Why a delivery was not verified. The answer never says (one 401 code for every reason, so a
 * forger learns nothing about which portals are installed or where); the gateway's log and the
 * `b24gw_events_rejected_total{reason}` metric do.
 */
export type RefusalReason =
  | 'no_credentials'
  | 'unknown_portal'
  | 'token_mismatch'
  | 'domain_not_allowed'
  | 'domain_changed'
  | 'install_not_proven'
  | 'not_admin'
  | 'wrong_application'
  | 'reinstall_while_installed'
  | 'uninstall_while_installed';

export const refusalReasons: readonly RefusalReason[] = [
  'no_credentials',
  'unknown_portal',
  'token_mismatch',
  'domain_not_allowed',
  'domain_changed',
  'install_not_proven',
  'not_admin',
  'wrong_application',
  'reinstall_while_installed',
  'uninstall_while_installed',
];

/** A refused verification: B24GW_UNAUTHORIZED to the sender, the reason and detail for the log. */
export class Refusal extends GatewayError {
  constructor(
    readonly reason: RefusalReason,
    detail: string,
  ) {
    super('B24GW_UNAUTHORIZED', undefined, { detail });
  }
}
