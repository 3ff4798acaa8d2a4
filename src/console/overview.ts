import type { EventStatus, Store } from '../store/types.js';
import type { Overview, Percentiles, PortalView } from './views.js';

const MINUTE = 60_000;

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: null, p95: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { count: values.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1)! };
}

/** The overview page: the last `minutes` of events by minute, latencies, the queue and the portals. */
export async function overview(
  store: Store,
  portals: () => Promise<PortalView[]>,
  now: number,
  minutes = 60,
): Promise<Overview> {
  const first = Math.floor(now / MINUTE) * MINUTE - (minutes - 1) * MINUTE;
  const [activity, queue, statuses, customerActions, portalList] = await Promise.all([
    store.activity(first),
    store.countEvents(),
    store.countStatuses(),
    store.countCustomerActions(),
    portals(),
  ]);
  const slots = Array.from({ length: minutes }, (_, i) => first + i * MINUTE);
  const index = (minute: number) => Math.round((minute - first) / MINUTE);
  const byStatus: Partial<Record<EventStatus, number[]>> = {};
  const codes = new Map<string, number[]>();
  for (const r of activity.perMinute) {
    const i = index(r.minute);
    if (i < 0 || i >= minutes) continue;
    (byStatus[r.status] ??= Array<number>(minutes).fill(0))[i]! += r.n;
    const list = codes.get(r.code) ?? Array<number>(minutes).fill(0);
    list[i]! += r.n;
    codes.set(r.code, list);
  }
  const byCode = [...codes.entries()]
    .map(([code, counts]) => ({ code, counts, total: counts.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total);
  return {
    now,
    since: first,
    minutes: slots,
    byStatus,
    byCode,
    latency: { processed: percentiles(activity.processedMs), confirmed: percentiles(activity.confirmedMs) },
    queue,
    statuses,
    customerActions,
    portals: portalList,
  };
}
