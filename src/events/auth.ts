import { z } from 'zod';
import { int, str } from './scalars.js';

/**
 * The `auth` block of every event. Only the portal's identity and `application_token`
 * are always there: OAuth tokens are absent when a robot, workflow or agent caused the event.
 */
export const authSchema = z.looseObject({
  access_token: str().optional(),
  refresh_token: str().optional(),
  expires: int().optional(),
  expires_in: int().optional(),
  scope: str().optional(),
  domain: str(),
  server_endpoint: str().optional(),
  client_endpoint: str().optional(),
  status: str().optional(),
  member_id: str(),
  user_id: int().optional(),
  application_token: str(),
});
export type EventAuth = z.output<typeof authSchema>;

/** An install always carries the OAuth pair; the gateway needs it to confirm the install. */
export const installAuthSchema = authSchema.extend({
  access_token: str(),
  refresh_token: str(),
});

/** A bot's own tokens (v1 `data.BOT[id]`, v2 `data.bot.auth`): the fields of `auth`, any of them. */
export const botAuthSchema = authSchema.partial();
