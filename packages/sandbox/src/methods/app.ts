import type { MethodHandler } from './context.js';

const license = (lang: string, plan: string): string => `${lang}_${plan === 'enterprise' ? 'ent' : 'std'}`;

/** app.info: what the installed application is on this portal. */
export const appInfo: MethodHandler = ({ portal, core }) => ({
  ID: portal.appId,
  CODE: portal.appCode,
  VERSION: portal.appVersion,
  STATUS: portal.status,
  INSTALLED: portal.installed,
  PAYMENT_EXPIRED: 'N',
  DAYS: null,
  LANGUAGE_ID: portal.languageId,
  LICENSE: license(portal.languageId, core.plan),
  LICENSE_TYPE: core.plan === 'enterprise' ? 'ent' : 'std',
  LICENSE_FAMILY: core.plan === 'enterprise' ? 'ent' : 'std',
});
