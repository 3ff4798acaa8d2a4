/**
 * `data` of each event as the docs and seeds show it, field order included. Builders
 * take plain ids and text; the sandbox's actions and scenarios feed them from portal state.
 */
export * from './app.js';
export * from './bot.js';
export * from './connector.js';
