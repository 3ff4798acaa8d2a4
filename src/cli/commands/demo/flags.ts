import type { Sandbox } from '@b24-im-gateway/sandbox';

/**
 * The `serve` flags that make a sandbox the gateway's Bitrix24: its portals' host allowed (or
 * `allow`), its OAuth client, and its authorization server. The demo and the tests that run the
 * built CLI against a sandbox start the gateway with these.
 */
export const sandboxFlags = (sb: Sandbox, allow = new URL(sb.url).host): string[] => [
  '--allow-domain',
  allow,
  '--client-id',
  sb.clientId,
  '--client-secret',
  sb.clientSecret,
  '--oauth-server',
  sb.url,
];
