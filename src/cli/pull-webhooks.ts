import { GatewayError } from '../errors.js';
import { parseWebhookUrl, type WebhookBot } from '../effects/bitrix/webhook.js';

/**
 * The `--pull-webhook`, `--bot-token` and `--bot-id` lists (each flag repeatable, or the
 * comma-separated env variables) paired in order: the n-th webhook is the n-th bot's. The
 * messages never repeat a URL or a token.
 */
export function webhookBots(urls: readonly string[], tokens: readonly string[], ids: readonly string[]): WebhookBot[] {
  if (urls.length === 0 && tokens.length === 0 && ids.length === 0) return [];
  if (tokens.length !== urls.length || ids.length !== urls.length)
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `each --pull-webhook needs its --bot-token and --bot-id, in the same order: got ${urls.length} webhook(s), ${tokens.length} token(s), ${ids.length} id(s)`,
    );
  return urls.map((url, i) => {
    parseWebhookUrl(url);
    const botId = Number(ids[i]);
    if (!Number.isSafeInteger(botId) || botId <= 0)
      throw new GatewayError(
        'B24GW_BAD_CONFIG',
        `--bot-id must be a bot's id (a whole number above 0), got "${ids[i]}"`,
      );
    if (!tokens[i]!.trim()) throw new GatewayError('B24GW_BAD_CONFIG', '--bot-token is empty');
    return { url, botToken: tokens[i]!, botId };
  });
}
