// @ts-check
/** A plain SVG bar chart: events/s and p99 latency, per concurrency, one bar per target. */
import { cellProblems, fmt } from './report.js';

/** @param {string} s */
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round tick step (1, 2 or 5 times a power of ten) giving about four ticks up to `max`. */
function tickStep(/** @type {number} */ max) {
  if (!(max > 0)) return 1;
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/**
 * One panel of grouped bars.
 * @param {{ title: string, top: number, width: number, height: number, groups: number[], series: { id: string, color: string }[],
 *   value: (target: string, concurrency: number) => { v: number, bad: boolean } | undefined, label: (v: number) => string }} o
 */
function panel({ title, top, width, height, groups, series, value, label }) {
  const left = 70;
  const plotW = width - left - 20;
  const plotH = height - 60;
  const y0 = top + 30 + plotH;
  let max = 0;
  for (const g of groups) for (const s of series) max = Math.max(max, value(s.id, g)?.v ?? 0);
  const step = tickStep(max * 1.1);
  const ticks = Math.max(1, Math.ceil((max * 1.1) / step));
  const yMax = step * ticks;
  const out = [`<text x="${left}" y="${top + 16}" class="title">${esc(title)}</text>`];
  for (let i = 0; i <= ticks; i++) {
    const y = y0 - (plotH * i) / ticks;
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" class="axis" text-anchor="end">${(step * i).toLocaleString('en-US')}</text>`);
  }
  const groupW = plotW / groups.length;
  const barW = Math.min(60, (groupW * 0.8) / series.length);
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const cell = value(s.id, g);
      if (!cell) return;
      const h = (cell.v / yMax) * plotH;
      const x = gx + si * barW;
      out.push(`<rect x="${x + 2}" y="${y0 - h}" width="${barW - 4}" height="${h}" fill="${s.color}"${cell.bad ? ' stroke="#d93025" stroke-width="3"' : ''}/>`);
      out.push(`<text x="${x + barW / 2}" y="${y0 - h - 4}" class="value" text-anchor="middle">${esc(label(cell.v))}${cell.bad ? ' !' : ''}</text>`);
    });
    out.push(`<text x="${left + gi * groupW + groupW / 2}" y="${y0 + 18}" class="axis" text-anchor="middle">concurrency ${g}</text>`);
  });
  out.push(`<line x1="${left}" y1="${y0}" x2="${left + plotW}" y2="${y0}" class="base"/>`);
  return out.join('\n');
}

/** @param {import('./report.js').Results} r */
export function chartSvg(r) {
  const width = 960;
  const panelH = 300;
  const series = r.targets.filter((t) => r.intake.some((c) => c.target === t.id));
  const groups = r.settings.concurrency;
  const find = (/** @type {string} */ id, /** @type {number} */ c) => r.intake.find((x) => x.target === id && x.concurrency === c);
  const perRow = 3;
  const legendRows = Math.ceil(series.length / perRow);
  const legend = series
    .map((s, i) => {
      const x = 70 + (i % perRow) * 290;
      const y = 44 + Math.floor(i / perRow) * 20;
      return `<rect x="${x}" y="${y}" width="14" height="14" fill="${s.color}"/><text x="${x + 20}" y="${y + 12}" class="axis">${esc(s.short)}</text>`;
    })
    .join('\n');
  const top = 50 + legendRows * 20;
  const height = top + panelH * 2 + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">
<style>
.title { font-size: 15px; font-weight: 600; fill: #202124 }
.axis { font-size: 12px; fill: #3c4043 }
.value { font-size: 11px; fill: #202124 }
.grid { stroke: #e8eaed }
.base { stroke: #5f6368 }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="70" y="26" class="title">b24-im-gateway intake benchmark (${esc(r.mode)}) · ${esc(r.machine.date.slice(0, 10))} · ${esc(r.machine.cpu)}, ${r.machine.cores} cores, Node ${esc(r.machine.node)}</text>
${legend}
${panel({ title: 'events/s (higher is better)', top, width, height: panelH, groups, series, value: (id, c) => { const x = find(id, c); return x && { v: x.eventsPerSec, bad: cellProblems(x) > 0 }; }, label: fmt.int })}
${panel({ title: 'p99 latency, ms (lower is better)', top: top + panelH, width, height: panelH, groups, series, value: (id, c) => { const x = find(id, c); return x && { v: x.p99, bad: cellProblems(x) > 0 }; }, label: fmt.ms })}
<text x="70" y="${height - 8}" class="axis">A red outline and "!" mark a cell with non-2xx answers, socket errors or timeouts.</text>
</svg>
`;
}
