import type { Route } from '../server/routes.js';
import { consoleApi, type ConsoleSource } from './api.js';
import { serveAssets } from './assets.js';

export type { ConsoleSource } from './api.js';

/**
 * The console on the admin listener: the page at /console/, its JSON API under /api/, and / sending
 * a browser to the page. Give them to `listenAdmin` (or `startServer`'s `admin.routes`).
 */
export function consoleRoutes(source: ConsoleSource, assets?: string): Record<string, Route> {
  const api = consoleApi(source);
  const files = serveAssets(assets);
  return {
    '/': (req, res) => {
      req.resume();
      res.writeHead(302, { location: '/console/' }).end();
    },
    '/console': files,
    '/console/*': files,
    '/api/*': api,
  };
}
