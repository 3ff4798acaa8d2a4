import type { BatchCall } from '../effects/bitrix/batch.js';
import type { PortalClient } from '../effects/bitrix/client.js';
import { GatewayError } from '../errors.js';
import { connectorEvents, planBindings, readBindings, type Delivery } from './bindings.js';
import { setupFailed, writeSteps, type SetupReport, type SetupStep, type WriteCall } from './steps.js';

export type { SetupReport, SetupStep } from './steps.js';

/*
 * A connector set up on an installed portal in one go: registered, its events bound (to the
 * gateway's URL, or to the portal's offline queue), activated on its lines, its data set; and
 * torn down again. Each run reads first (event.get, imconnector.status, in one batch), then does
 * what is missing in one batch that stops at the first failure, so a second run does nothing new.
 */

/** The connector's settings page unless another is given: the gateway's public listener answers it. */
export const SETTINGS_PATH = '/connector/settings';

export interface ConnectorSetupOptions {
  /** The connector's code: digits, lower-case letters and `_` (Bitrix24 refuses a dot). */
  id: string;
  /** Its name in the Open Lines settings. */
  name: string;
  /** Its icon: an SVG as a data URI (`data:image/svg+xml,...`), or the SVG's text. */
  icon: string;
  /** The icon's background colour, e.g. `#69acc0`. */
  iconColor?: string;
  /** Group chats (one Bitrix24 chat per external chat) rather than one per external user. Default false, as Bitrix24's. */
  chatGroup?: boolean;
  /** The page Bitrix24 opens for the connector's settings. */
  placementHandler: string;
  /** Open Lines to activate it on. */
  lines: readonly number[];
  /** Where events go. */
  delivery: Delivery;
  /** imconnector.connector.data.set for each line; default ID `<id>_line<N>` and NAME the connector's name. */
  data?: { id?: string; url?: string; urlIm?: string; name?: string };
  /** Only read, and say what would be done. */
  dryRun?: boolean;
}

export interface TeardownOptions {
  id: string;
  lines: readonly number[];
  delivery: Delivery;
  dryRun?: boolean;
}

/** An SVG file's text as the data URI imconnector.register takes; a data URI as it is. */
export const iconDataUri = (icon: string): string =>
  icon.startsWith('data:') ? icon : `data:image/svg+xml,${encodeURIComponent(icon.trim())}`;

const validId = /^[a-z0-9_]+$/;

function checkOptions(o: { id: string; lines: readonly number[]; delivery: Delivery }): void {
  if (!validId.test(o.id))
    throw new GatewayError(
      'B24GW_BAD_INPUT',
      `The connector id must be digits, lower-case letters and _ (Bitrix24 refuses a dot), got "${o.id}"`,
    );
  if (o.lines.length === 0 || o.lines.some((l) => !Number.isSafeInteger(l) || l <= 0))
    throw new GatewayError('B24GW_BAD_INPUT', 'Give the Open Lines to use: whole numbers above 0 (--line)');
  if ('url' in o.delivery && !/^https?:\/\/[^\s]+$/i.test(o.delivery.url))
    throw new GatewayError('B24GW_BAD_INPUT', `The events URL must be http(s), got "${o.delivery.url}"`);
}

/** What the portal holds now: the application's bindings and the connector's status on each line. */
async function readPortal(client: PortalClient, id: string, lines: readonly number[]) {
  const reads: BatchCall[] = [
    { method: 'event.get' },
    ...lines.map((line) => ({ method: 'imconnector.status', params: { CONNECTOR: id, LINE: line } })),
  ];
  const answer = await client.batch(reads, true);
  const failed = answer.items.find((it) => !it.ok);
  if (failed && !failed.ok) throw setupFailed(failed.error, []);
  const [bindings, ...statuses] = answer.items.map((it) => (it.ok ? it.result : undefined));
  return {
    bindings: readBindings(bindings),
    active: lines.map((_, i) => (statuses[i] as { STATUS?: unknown } | undefined)?.STATUS === true),
  };
}

const bindCall = (event: string, delivery: Delivery): BatchCall =>
  'offline' in delivery
    ? { method: 'event.bind', params: { event, event_type: 'offline' } }
    : { method: 'event.bind', params: { event, handler: delivery.url } };

const unbindCall = (b: { event: string; handler: string; authType: string; offline: boolean }): BatchCall =>
  b.offline
    ? { method: 'event.unbind', params: { event: b.event, event_type: 'offline' } }
    : // Event, handler and auth_type together: exactly this binding, never another (with fewer, Bitrix24 removes every match).
      { method: 'event.unbind', params: { event: b.event, handler: b.handler, auth_type: b.authType } };

const where = (d: Delivery) => ('offline' in d ? "the portal's offline queue" : d.url);

/**
 * Sets a connector up on one portal. Reads what is there, then in one batch: imconnector.register
 * (again: it updates the name, icon and settings page), event.bind for each event not yet
 * delivered as asked and event.unbind for this application's bindings of those events that
 * deliver elsewhere, imconnector.activate on each line not yet active, and
 * imconnector.connector.data.set. Throws B24GW_SETUP_FAILED naming the call that failed and what
 * was done before it.
 */
export async function setupConnector(client: PortalClient, o: ConnectorSetupOptions): Promise<SetupReport> {
  checkOptions(o);
  if (!/^https?:\/\/[^\s]+$/i.test(o.placementHandler))
    throw new GatewayError(
      'B24GW_BAD_INPUT',
      `The settings page (placement handler) must be an http(s) URL, got "${o.placementHandler}"`,
    );
  const { bindings, active } = await readPortal(client, o.id, o.lines);
  const plan = planBindings(connectorEvents, bindings, o.delivery);
  const steps: SetupStep[] = [];
  const calls: WriteCall[] = [];

  const icon = { DATA_IMAGE: iconDataUri(o.icon), ...(o.iconColor ? { COLOR: o.iconColor } : {}) };
  calls.push({
    call: {
      method: 'imconnector.register',
      params: {
        ID: o.id,
        NAME: o.name,
        ICON: icon,
        PLACEMENT_HANDLER: o.placementHandler,
        CHAT_GROUP: o.chatGroup ? 'Y' : 'N',
      },
    },
    summary: `register connector ${o.id} ("${o.name}", settings page ${o.placementHandler})`,
    // Its errors come as HTTP 200 with result.result = false.
    check: (r) =>
      (r as { result?: unknown } | null)?.result === true
        ? undefined
        : `${String((r as { error?: unknown } | null)?.error ?? 'no result')}: ${String((r as { error_description?: unknown } | null)?.error_description ?? '')}`,
  });
  for (const b of plan.stale)
    calls.push({
      call: unbindCall(b),
      summary: `unbind ${b.event} from ${b.offline ? 'the offline queue' : b.handler} (stale)`,
    });
  for (const event of plan.missing)
    calls.push({ call: bindCall(event, o.delivery), summary: `bind ${event} to ${where(o.delivery)}` });
  // Offline, the news that something waits is posted to the gateway, so it pulls at once.
  const wake = 'offline' in o.delivery && o.delivery.wakeUrl ? { url: o.delivery.wakeUrl } : undefined;
  if (wake) {
    const news = planBindings(['ONOFFLINEEVENT'], bindings, wake);
    for (const b of news.stale.filter((x) => !x.offline))
      calls.push({ call: unbindCall(b), summary: `unbind ONOFFLINEEVENT from ${b.handler} (stale)` });
    if (news.missing.length > 0)
      calls.push({ call: bindCall('ONOFFLINEEVENT', wake), summary: `bind ONOFFLINEEVENT to ${wake.url}` });
    else
      steps.push({
        outcome: 'kept',
        method: 'event.bind',
        params: { event: 'ONOFFLINEEVENT' },
        summary: `ONOFFLINEEVENT already goes to ${wake.url}`,
      });
  }
  for (const event of plan.kept)
    steps.push({
      outcome: 'kept',
      method: 'event.bind',
      params: { event },
      summary: `${event} already goes to ${where(o.delivery)}`,
    });
  o.lines.forEach((line, i) => {
    if (active[i])
      steps.push({
        outcome: 'kept',
        method: 'imconnector.activate',
        params: { CONNECTOR: o.id, LINE: line },
        summary: `already active on line ${line}`,
      });
    else
      calls.push({
        call: { method: 'imconnector.activate', params: { CONNECTOR: o.id, LINE: line, ACTIVE: 1 } },
        summary: `activate on line ${line}`,
      });
  });
  for (const line of o.lines) {
    const d = o.data ?? {};
    const DATA = {
      ID: d.id ?? `${o.id}_line${line}`,
      NAME: d.name ?? o.name,
      ...(d.url ? { URL: d.url } : {}),
      ...((d.urlIm ?? d.url) ? { URL_IM: d.urlIm ?? d.url } : {}),
    };
    calls.push({
      call: { method: 'imconnector.connector.data.set', params: { CONNECTOR: o.id, LINE: line, DATA } },
      summary: `set the channel's data on line ${line} (ID ${DATA.ID})`,
    });
  }
  return { steps: [...steps, ...(await writeSteps(client, calls, o.dryRun))] };
}

/**
 * Undoes setup on one portal: this application's bindings of the connector's events that deliver
 * as given are removed (others stay), the connector is switched off on its lines and unregistered.
 */
export async function teardownConnector(client: PortalClient, o: TeardownOptions): Promise<SetupReport> {
  checkOptions(o);
  const { bindings, active } = await readPortal(client, o.id, o.lines);
  const ours = bindings.filter(
    (b) =>
      connectorEvents.includes(b.event) &&
      ('offline' in o.delivery ? b.offline : !b.offline && b.handler === o.delivery.url),
  );
  const calls: WriteCall[] = [];
  for (const b of ours) calls.push({ call: unbindCall(b), summary: `unbind ${b.event} from ${where(o.delivery)}` });
  const wakeUrl = 'offline' in o.delivery ? o.delivery.wakeUrl : undefined;
  for (const b of bindings.filter((x) => x.event === 'ONOFFLINEEVENT' && !x.offline && x.handler === wakeUrl))
    calls.push({ call: unbindCall(b), summary: `unbind ONOFFLINEEVENT from ${b.handler}` });
  o.lines.forEach((line, i) => {
    if (active[i])
      calls.push({
        call: { method: 'imconnector.activate', params: { CONNECTOR: o.id, LINE: line, ACTIVE: 0 } },
        summary: `switch off on line ${line}`,
      });
  });
  calls.push({
    call: { method: 'imconnector.unregister', params: { ID: o.id } },
    summary: `unregister connector ${o.id}`,
    // Unregistering one that is not there is what teardown wants.
    check: (r) =>
      (r as { result?: unknown } | null)?.result === true ||
      (r as { error?: unknown } | null)?.error === 'APPLICATION_UNREGISTRATION_ERROR'
        ? undefined
        : `${String((r as { error?: unknown } | null)?.error ?? 'no result')}`,
  });
  return { steps: await writeSteps(client, calls, o.dryRun) };
}
