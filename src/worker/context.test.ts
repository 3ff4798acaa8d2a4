import { describe, expect, it } from 'vitest';
import { botsOf } from './context.js';

describe('botsOf', () => {
  const secrets = JSON.stringify({ bots: { '571': { access_token: 'bot-571' }, '456': { access_token: 'bot-456' } } });

  it('an event without bots addresses none', () => {
    expect(botsOf({ data: { LINE: 1 } }, secrets)).toStrictEqual([]);
    expect(botsOf({ data: 7 }, secrets)).toStrictEqual([]);
    expect(botsOf({}, secrets)).toStrictEqual([]);
    expect(botsOf({ data: { BOT: 'x', bot: 'y' } }, secrets)).toStrictEqual([]);
    expect(botsOf({ data: { BOT: { '571': { BOT_ID: 571 } }, bot: 'y' } }, secrets)).toStrictEqual([
      { id: 571, code: '', auth: { access_token: 'bot-571' } },
    ]);
  });

  it('each entry of BOT with its own auth from the secrets; id and code from the entry or its key', () => {
    expect(botsOf({ data: { BOT: { '571': { BOT_ID: 571, BOT_CODE: 'BOT' }, '572': {} } } }, secrets)).toStrictEqual([
      { id: 571, code: 'BOT', auth: { access_token: 'bot-571' } },
      { id: 572, code: '', auth: {} },
    ]);
  });

  it('a Chatbots 2.0 bot with its auth; one without code or secrets still named by its id', () => {
    expect(botsOf({ data: { bot: { id: 456, code: 'support_bot' } } }, secrets)).toStrictEqual([
      { id: 456, code: 'support_bot', auth: { access_token: 'bot-456' } },
    ]);
    expect(botsOf({ data: { bot: { id: 457 } } }, null)).toStrictEqual([{ id: 457, code: '', auth: {} }]);
  });
});
