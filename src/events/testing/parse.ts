import { expect } from 'vitest';
import { fetchFixture, formFixture, jsonFixture } from '../../../test/fixtures.js';
import { GatewayError } from '../../errors.js';
import { decodeBody } from '../../wire/decode.js';
import { decodeForm } from '../../wire/form.js';
import { parseEvent, parseFetched, type FetchedEvent, type ParsedEvent } from '../registry.js';

/** Parses a fixture's form body and its JSON body, which must give one typed event. */
export const both = (name: string): ParsedEvent => {
  const form = parseEvent(decodeBody(formFixture(name), 'form'));
  const json = parseEvent(decodeBody(jsonFixture(name), 'json'));
  expect(form).toEqual(json);
  return form;
};

/** The GatewayError a form body is refused with. */
export const errorOf = (body: string): GatewayError => {
  try {
    parseEvent(decodeForm(body));
  } catch (e) {
    if (e instanceof GatewayError) return e;
  }
  throw new Error('expected a GatewayError');
};

/** What a handler receives: the event as the store keeps it (JSON), undefined fields gone. */
export const asStored = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * Parses a Chatbots 2.0 fixture three ways: its webhook form body, its JSON body (one typed event,
 * see `both`) and its Event.get item. The item's data must be the webhook's, `bot` aside: the webhook
 * gives `{id, code, auth}`, Event.get the full bot object.
 */
export const allForms = (name: string): { webhook: ParsedEvent; fetched: FetchedEvent } => {
  const webhook = both(name);
  const fetched = parseFetched(fetchFixture(name));
  expect(fetched.code).toBe(webhook.code);
  const { bot: hookBot, ...hookData } = asStored(webhook.event.data) as { bot?: { id: number; code: string } };
  const { bot: fetchBot, ...fetchData } = asStored(fetched.data) as { bot?: { id: number; code: string } };
  expect(fetchData).toStrictEqual(hookData);
  expect(fetchBot && { id: fetchBot.id, code: fetchBot.code }).toStrictEqual(
    hookBot && { id: hookBot.id, code: hookBot.code },
  );
  return { webhook, fetched };
};
