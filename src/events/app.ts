import { z } from 'zod';
import { authSchema, installAuthSchema } from './auth.js';
import { envelope } from './envelope.js';
import { int, str } from './scalars.js';

export const appInstall = envelope(
  'ONAPPINSTALL',
  z.looseObject({ VERSION: str(), ACTIVE: str(), INSTALLED: str(), LANGUAGE_ID: str() }),
  installAuthSchema,
);

export const appUninstall = envelope('ONAPPUNINSTALL', z.looseObject({ LANGUAGE_ID: str(), CLEAN: int() }), authSchema);

/** `event.test` sends back under data[QUERY] whatever it was called with. */
export const appTest = envelope('ONAPPTEST', z.looseObject({ QUERY: z.unknown().optional() }).optional());
