import { describe, expect, it } from 'vitest';
import { webhookBots } from '../../cli/pull-webhooks.js';
import { redactForLog } from '../../log.js';
import { isWebhookMember, parseWebhookUrl } from './webhook.js';

describe('incoming webhook URLs', () => {
  it('are keyed by host and user, never by their secret code', () => {
    const h = parseWebhookUrl('https://Portal.Bitrix24.com/rest/1/abc123def456/');
    expect(h).toMatchObject({ host: 'portal.bitrix24.com', userId: '1', memberId: 'hook:portal.bitrix24.com:1' });
    expect(h.base).toBe('https://portal.bitrix24.com/rest/1/abc123def456/');
    expect(parseWebhookUrl('http://127.0.0.1:8080/rest/7/abc123def456').base).toBe(
      'http://127.0.0.1:8080/rest/7/abc123def456/',
    );
    expect(isWebhookMember(h.memberId)).toBe(true);
    expect(isWebhookMember('a1b2c3')).toBe(false);
  });

  it('a bad one is B24GW_BAD_CONFIG and the message does not repeat it', () => {
    for (const url of [
      'not a url s3cr3tcode',
      'https://p.example/rest/s3cr3tcode/',
      'ftp://p.example/rest/1/s3cr3tcode/',
    ]) {
      expect(() => parseWebhookUrl(url)).toThrow(expect.objectContaining({ code: 'B24GW_BAD_CONFIG' }));
      expect(() => parseWebhookUrl(url)).not.toThrow(/s3cr3tcode/);
    }
  });

  it('the CLI pairs each webhook with its token and bot id, in order', () => {
    const url = 'https://p.example/rest/1/abc123def456/';
    expect(webhookBots([url], ['tok'], ['5'])).toEqual([{ url, botToken: 'tok', botId: 5 }]);
    expect(webhookBots([], [], [])).toEqual([]);
    expect(() => webhookBots([url], [], ['5'])).toThrow(/each --pull-webhook needs its --bot-token and --bot-id/);
    expect(() => webhookBots([url], ['tok'], ['x'])).toThrow(/--bot-id must be/);
  });
});

it('a log line never shows a botToken or the webhooks of the pull options', () => {
  const line = {
    pull: { webhooks: [{ url: 'https://p.example/rest/1/abc123def456/', botToken: 't0k3n' }] },
    botToken: 't0k3n',
  };
  expect(JSON.stringify(redactForLog(line))).not.toMatch(/abc123def456|t0k3n/);
});
