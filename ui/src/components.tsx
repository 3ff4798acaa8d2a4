import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { EventStatus } from './types.js';

/** A status as a badge in the status's colour (`--s-<status>`), worded as `label` if given. */
export function Status({ status, label }: { status: string; label?: string }) {
  return (
    <span class="badge" style={{ color: `var(--s-${status})` }}>
      {label ?? status}
    </span>
  );
}

export function Problem({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <div class="problem" role="alert">
      {error.message}
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** Rows under column headings, or what `empty` says when there are none. */
export function Table<T>({
  head,
  rows,
  cells,
  empty,
}: {
  head: string[];
  rows: T[];
  cells: (row: T) => ComponentChildren;
  empty: string;
}) {
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th scope="col">{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>{cells(r)}</tr>
        ))}
      </tbody>
    </table>
  );
}

export function Stat({ label, value, warn }: { label: string; value: ComponentChildren; warn?: boolean }) {
  return (
    <div class={`stat${warn ? ' warn' : ''}`}>
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

export const statusColor = (s: EventStatus | string): string => css(`--s-${s}`);
const palette = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'];

export interface Series {
  label: string;
  values: number[];
  color?: string;
}

/**
 * A line chart of counts per minute (uPlot: a few dozen KB, canvas, fast at thousands of points).
 * Drawn again when its data or the page's colours change; its legend is the text a screen reader gets.
 */
export function Chart({
  title,
  x,
  series,
  height = 180,
}: {
  title: string;
  x: number[];
  series: Series[];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: css('--fg-muted'), grid: { stroke: css('--grid') } },
        { stroke: css('--fg-muted'), grid: { stroke: css('--grid') } },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? css(palette[i % palette.length]!),
          width: 2,
          points: { show: false },
        })),
      ],
    };
    const plot = new uPlot(opts, [x.map((t) => t / 1000), ...series.map((s) => s.values)], el);
    const resize = () => plot.setSize({ width: Math.max(300, el.clientWidth), height });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [x, series, height, document.documentElement.dataset.theme]);
  const total = series.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
  return (
    <figure class="chart">
      <figcaption>
        {title} <span class="muted">({total} in the window)</span>
      </figcaption>
      <div
        ref={box}
        role="img"
        aria-label={`${title}: ${series.map((s) => `${s.label} ${s.values.reduce((a, b) => a + b, 0)}`).join(', ')}`}
      />
    </figure>
  );
}

/** A confirmation in a modal <dialog>: focus stays inside, Escape cancels. */
export function Confirm({
  open,
  title,
  children,
  confirm,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onCancel={onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={onConfirm} autofocus>
          {confirm}
        </button>
      </div>
    </dialog>
  );
}
