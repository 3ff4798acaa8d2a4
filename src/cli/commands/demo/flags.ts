/*
 * Flags of `serve` (and setup, doctor) for a sandbox as Bitrix24, shared by the demo and by the
 * tests that run the built CLI against a sandbox.
 */

/** The application's OAuth client as serve, setup and doctor take it: the sandbox's client and its OAuth server. */
export const oauthFlags = (sb: { clientId: string; clientSecret: string; url: string }): string[] =>
  Object.entries({ '--client-id': sb.clientId, '--client-secret': sb.clientSecret, '--oauth-server': sb.url }).flat();

/** Where serve delivers connector events, and the secret it signs them with. */
export const channelFlags = (channel: { url: string; secret: string }): string[] => [
  '--channel-url',
  channel.url,
  '--channel-secret',
  channel.secret,
];
