import type { TextFormat } from '../../../effects/channel/bbcode.js';

export interface DemoOptions {
  /** Text format the gateway converts BB-code to for the channel. */
  format: TextFormat;
  /** Leave everything running after the run, print the URLs, stop on SIGINT/SIGTERM. */
  keep?: boolean;
  /** Longest wait for one step's effects. Default 20 s. */
  stepTimeoutMs?: number;
  /** ANSI colours. Default: when stdout is a TTY and NO_COLOR is not set. */
  color?: boolean;
  /** Where the lines go. Default console.log. */
  out?: (line: string) => void;
  /** Aborts the run (and, with keep, ends it). */
  signal?: AbortSignal;
}

export interface DemoStep {
  n: number;
  title: string;
  /** What Bitrix24 sent: event codes, or what the application did. */
  sent: string;
  /** The gateway's events for the step (ids) and their final status. */
  events: { id: number; code: string; status: string }[];
  /** Payload types the channel received. */
  channel: string;
  /** What the gateway called back on Bitrix24. */
  back: string;
  failures: string[];
}

export interface DemoResult {
  pass: boolean;
  steps: DemoStep[];
  /** Failures found after the steps (events not done, refused signatures...). */
  final: string[];
  interrupted: boolean;
}
