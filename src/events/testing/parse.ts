import { expect } from 'vitest';
import { formFixture, jsonFixture } from '../../../test/fixtures.js';
import { GatewayError } from '../../errors.js';
import { decodeBody } from '../../wire/decode.js';
import { decodeForm } from '../../wire/form.js';
import { parseEvent, type ParsedEvent } from '../registry.js';

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
