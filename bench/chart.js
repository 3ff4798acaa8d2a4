// @ts-check
/**
 * A plain SVG chart: intake events/s and p99 latency per concurrency, one bar per target
 * (SQLite and PostgreSQL); then end to end: events/s and send → status latency per run, and
 * each gateway's RSS through its end-to-end run. The soak's RSS has a chart of its own (soakSvg).
 */
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
 * A panel's title and y axis: grid lines and labels at round steps up to a bit above `max`.
 * @param {{ title: string, top: number, left: number, plotW: number, plotH: number, y0: number, max: number }} o
 * @returns {{ yMax: number, out: string[] }} the axis' top value, and the SVG so far
 */
function axes({ title, top, left, plotW, plotH, y0, max }) {
  const step = tickStep(max * 1.1);
  const ticks = Math.max(1, Math.ceil((max * 1.1) / step));
  const out = [`<text x="${left}" y="${top + 16}" class="title">${esc(title)}</text>`];
  for (let i = 0; i <= ticks; i++) {
    const y = y0 - (plotH * i) / ticks;
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" class="grid"/>`);
    out.push(
      `<text x="${left - 6}" y="${y + 4}" class="axis" text-anchor="end">${(step * i).toLocaleString('en-US')}</text>`,
    );
  }
  return { yMax: step * ticks, out };
}

/**
 * One panel of grouped bars; `line` draws a dashed horizontal reference (e.g. the offered rate).
 * @param {{ title: string, top: number, width: number, height: number, groups: { key: string | number, label: string }[], series: { id: string, color: string }[],
 *   value: (series: string, group: string | number) => { v: number, bad: boolean } | undefined, label: (v: number) => string, line?: { v: number, label: string } }} o
 */
function panel({ title, top, width, height, groups, series, value, label, line }) {
  const left = 70;
  const plotW = width - left - 20;
  const plotH = height - 60;
  const y0 = top + 30 + plotH;
  let max = 0;
  for (const g of groups) for (const s of series) max = Math.max(max, value(s.id, g.key)?.v ?? 0);
  if (line) max = Math.max(max, line.v);
  const { yMax, out } = axes({ title, top, left, plotW, plotH, y0, max });
  const groupW = plotW / groups.length;
  const barW = Math.min(60, (groupW * 0.8) / series.length);
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const cell = value(s.id, g.key);
      if (!cell) return;
      const h = (cell.v / yMax) * plotH;
      const x = gx + si * barW;
      out.push(
        `<rect x="${x + 2}" y="${y0 - h}" width="${barW - 4}" height="${h}" fill="${s.color}"${cell.bad ? ' stroke="#d93025" stroke-width="3"' : ''}/>`,
      );
      out.push(
        `<text x="${x + barW / 2}" y="${y0 - h - 4}" class="value" text-anchor="middle">${esc(label(cell.v))}${cell.bad ? ' !' : ''}</text>`,
      );
    });
    out.push(
      `<text x="${left + gi * groupW + groupW / 2}" y="${y0 + 18}" class="axis" text-anchor="middle">${esc(g.label)}</text>`,
    );
  });
  out.push(`<line x1="${left}" y1="${y0}" x2="${left + plotW}" y2="${y0}" class="base"/>`);
  if (line) {
    const y = y0 - (line.v / yMax) * plotH;
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" class="ref"/>`);
    out.push(`<text x="${left + plotW - 4}" y="${y - 4}" class="axis" text-anchor="end">${esc(line.label)}</text>`);
  }
  return out.join('\n');
}

/**
 * One panel of lines: y against sample index (one a second).
 * @param {{ title: string, top: number, width: number, height: number, lines: { name: string, color: string, dashed: boolean, ys: number[] }[], unit: string }} o
 */
function linePanel({ title, top, width, height, lines, unit }) {
  const left = 70;
  const plotW = width - left - 20;
  const legendH = Math.ceil(lines.length / 3) * 16 + 6;
  const plotH = height - 60 - legendH;
  const y0 = top + 30 + legendH + plotH;
  const maxY = Math.max(1, ...lines.flatMap((l) => l.ys));
  const maxX = Math.max(1, ...lines.map((l) => l.ys.length - 1));
  const { yMax, out } = axes({ title, top, left, plotW, plotH, y0, max: maxY });
  const xStep = tickStep(maxX / 2);
  for (let x = 0; x <= maxX; x += xStep)
    out.push(`<text x="${left + (plotW * x) / maxX}" y="${y0 + 18}" class="axis" text-anchor="middle">${x} s</text>`);
  lines.forEach((l, i) => {
    const pts = l.ys
      .map((v, x) => `${(left + (plotW * x) / maxX).toFixed(1)},${(y0 - (v / yMax) * plotH).toFixed(1)}`)
      .join(' ');
    out.push(
      `<polyline points="${pts}" fill="none" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    const lx = left + 10 + (i % 3) * 270;
    const ly = top + 36 + Math.floor(i / 3) * 16;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${lx + 28}" y="${ly}" class="axis">${esc(l.name)}</text>`);
  });
  out.push(`<line x1="${left}" y1="${y0}" x2="${left + plotW}" y2="${y0}" class="base"/>`);
  out.push(`<text x="${left + plotW}" y="${top + 16}" class="axis" text-anchor="end">${esc(unit)}</text>`);
  return out.join('\n');
}

/**
 * @param {{ id: string, short: string, color: string }[]} series
 * @param {number} y
 */
function legendOf(series, y) {
  const perRow = 3;
  const svg = series
    .map((s, i) => {
      const x = 70 + (i % perRow) * 290;
      const yy = y + Math.floor(i / perRow) * 20;
      return `<rect x="${x}" y="${yy}" width="14" height="14" fill="${s.color}"/><text x="${x + 20}" y="${yy + 12}" class="axis">${esc(s.short)}</text>`;
    })
    .join('\n');
  return { svg, height: Math.ceil(series.length / perRow) * 20 };
}

/** @param {import('./report.js').Results} r */
export function chartSvg(r) {
  const width = 960;
  const panelH = 300;
  const series = r.targets.filter((t) => r.intake.some((c) => c.target === t.id));
  const groups = r.settings.concurrency.map((c) => ({ key: c, label: `concurrency ${c}` }));
  const find = (/** @type {string} */ id, /** @type {string | number} */ c) =>
    r.intake.find((x) => x.target === id && x.concurrency === c);
  const legend = legendOf(series, 44);
  const parts = [legend.svg];
  let top = 50 + legend.height;
  if (series.length) {
    parts.push(panel({ title: 'intake events/s (higher is better)', top, width, height: panelH, groups, series, value: (id, c) => { const x = find(id, c); return x && { v: x.eventsPerSec, bad: cellProblems(x) > 0 }; }, label: fmt.int })); // prettier-ignore
    top += panelH;
    parts.push(panel({ title: 'intake p99 latency, ms (lower is better)', top, width, height: panelH, groups, series, value: (id, c) => { const x = find(id, c); return x && { v: x.p99, bad: cellProblems(x) > 0 }; }, label: fmt.ms })); // prettier-ignore
    top += panelH;
  }
  const runs = r.e2e ?? [];
  if (runs.length) {
    const e2eSeries = runs.map((x) => ({
      id: x.id,
      short: x.relay
        ? `${x.id}: the minimal relay`
        : `${x.id}: ${x.db === 'postgres' ? 'PostgreSQL' : 'SQLite'}, ${x.instances} instance${x.instances > 1 ? 's' : ''}`,
      color: x.color,
    }));
    const byId = (/** @type {string} */ id) => runs.find((x) => x.id === id);
    parts.push(`<line x1="20" y1="${top + 10}" x2="${width - 20}" y2="${top + 10}" class="base"/>`);
    parts.push(
      `<text x="70" y="${top + 34}" class="title">End to end: sandbox → gateway → channel → delivery status at the sandbox · ${esc(String(r.settings.e2e.rate))} events/s for ${esc(String(r.settings.e2e.seconds))} s</text>`,
    );
    const e2eLegend = legendOf(e2eSeries, top + 46);
    parts.push(e2eLegend.svg);
    top += 56 + e2eLegend.height;
    const half = width / 2;
    parts.push(
      panel({
        title: 'events/s, first send → last status',
        top,
        width: half,
        height: panelH,
        groups: [{ key: 'eps', label: 'end to end' }],
        series: e2eSeries,
        value: (id) => { const x = byId(id); return x && { v: x.eventsPerSec, bad: x.problems.length > 0 }; }, // prettier-ignore
        label: fmt.int,
        line: { v: r.settings.e2e.rate, label: `offered ${r.settings.e2e.rate}/s` },
      }),
    );
    parts.push(
      `<g transform="translate(${half} 0)">${panel({
        title: 'send → status latency, ms',
        top,
        width: half,
        height: panelH,
        groups: [
          { key: 'p50', label: 'p50' },
          { key: 'p99', label: 'p99' },
        ],
        series: e2eSeries,
        value: (id, g) => { const x = byId(id); const v = x?.latencyMs?.[g === 'p50' ? 'p50' : 'p99']; return x && v !== undefined ? { v, bad: x.problems.length > 0 } : undefined; }, // prettier-ignore
        label: fmt.int,
      })}</g>`,
    );
    top += panelH;
    const lines = runs.flatMap((x) =>
      Object.entries(x.memory).map(([name, m]) => ({
        name: `${name} (peak ${m.peakMb ?? '?'} MB, ${fmt.pct(m.growthPct)})`,
        color: x.color,
        dashed: / #2$/.test(name),
        ys: m.rssMb,
      })),
    );
    parts.push(
      linePanel({
        title: 'gateway RSS through the end-to-end run, one sample a second',
        top,
        width,
        height: panelH,
        lines,
        unit: 'MB',
      }),
    );
    top += panelH;
  }
  const height = top + 30;
  return frame(
    width,
    height,
    `b24-im-gateway benchmark (${esc(r.mode)}) · ${esc(r.machine.date.slice(0, 10))} · ${esc(r.machine.cpu)}, ${r.machine.cores} cores, Node ${esc(r.machine.node)}`,
    `${parts.join('\n')}
<text x="70" y="${height - 8}" class="axis">A red outline and "!" mark a cell with non-2xx answers, socket errors or timeouts (intake), or a flagged end-to-end run.</text>`,
  );
}

/**
 * The SVG document around the panels: size, styles, background, heading (already escaped).
 * @param {number} width
 * @param {number} height
 * @param {string} heading
 * @param {string} body
 */
function frame(width, height, heading, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">
<style>
.title { font-size: 15px; font-weight: 600; fill: #202124 }
.axis { font-size: 12px; fill: #3c4043 }
.value { font-size: 11px; fill: #202124 }
.grid { stroke: #e8eaed }
.base { stroke: #5f6368 }
.ref { stroke: #d93025; stroke-dasharray: 6 4 }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="70" y="26" class="title">${heading}</text>
${body}
</svg>
`;
}

/**
 * The soak's chart: the gateway's RSS each second through the soak, with the first and last
 * thirds' averages the flat verdict compares.
 * @param {import('./report.js').Results} r
 */
export function soakSvg(r) {
  const x = r.soak;
  const width = 960;
  const height = 400;
  const m = x ? Object.values(x.memory)[0] : undefined;
  const lines = m
    ? [
        { name: `RSS (peak ${m.peakMb ?? '?'} MB)`, color: x?.color ?? '#1a73e8', dashed: false, ys: m.rssMb },
        {
          name: `first third: ${m.firstThirdMb} MB`,
          color: '#9aa0a6',
          dashed: true,
          ys: m.rssMb.map(() => m.firstThirdMb ?? 0),
        },
        {
          name: `last third: ${m.lastThirdMb} MB (${fmt.pct(m.growthPct)})`,
          color: '#d93025',
          dashed: true,
          ys: m.rssMb.map(() => m.lastThirdMb ?? 0),
        },
      ]
    : [];
  const title = x
    ? `Soak: ${x.load.rate} events/s for ${x.load.seconds} s, SQLite, one sample a second`
    : 'Soak: not run';
  return frame(
    width,
    height,
    `b24-im-gateway soak · ${esc(r.machine.date.slice(0, 10))} · ${esc(r.machine.cpu)}, ${r.machine.cores} cores, Node ${esc(r.machine.node)}`,
    linePanel({ title, top: 40, width, height: height - 50, lines, unit: 'MB' }),
  );
}
