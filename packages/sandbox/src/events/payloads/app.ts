/** `data` of the application lifecycle events. */

export const appInstall = (d: { version: number | string; languageId: string }): Record<string, unknown> => ({
  VERSION: String(d.version),
  ACTIVE: 'Y',
  INSTALLED: 'Y',
  LANGUAGE_ID: d.languageId,
});

export const appUninstall = (d: { languageId: string; clean?: boolean }): Record<string, unknown> => ({
  LANGUAGE_ID: d.languageId,
  CLEAN: d.clean ? 1 : 0,
});

/** ONAPPTEST: the parameters event.test was called with, under QUERY. */
export const appTest = (d: { query: Record<string, unknown>; languageId: string }): Record<string, unknown> => ({
  QUERY: d.query,
  LANGUAGE_ID: d.languageId,
});
