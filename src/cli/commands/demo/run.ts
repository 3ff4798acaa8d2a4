import { play } from './conversation.js';
import { playPull } from './pull.js';
import { cleanUp, makeTempDir, startEnvironment, type Cleanup } from './environment.js';
import { finalChecks } from './final-checks.js';
import { painter } from './format.js';
import { keepRunning } from './keep-running.js';
import { printGatewayLog, printHeader, printSummary } from './report.js';
import type { DemoOptions, DemoResult } from './types.js';
import { Interrupted } from './wait.js';

/** Runs the demo; resolves after cleaning up (with keep: after the signal). Never leaves a process or file behind. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  // A closed stdout (`demo | head`) must not end the run before it cleans up: stop printing instead.
  let stdoutClosed = false;
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stdoutClosed = true;
  };
  if (!o.out) process.stdout.on('error', onStdoutError);
  const out = o.out ?? ((line: string) => void (stdoutClosed || process.stdout.write(`${line}\n`)));
  const paint = painter(o.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR));
  const timeoutMs = o.stepTimeoutMs ?? 20_000;
  const cleanups: Cleanup[] = [() => void process.stdout.off('error', onStdoutError)];
  const result: DemoResult = { pass: false, steps: [], final: [], interrupted: false };
  const tmp = makeTempDir(cleanups);
  try {
    const env = await startEnvironment(tmp, { format: o.format, timeoutMs, signal: o.signal, paint, out }, cleanups);
    printHeader(env);

    try {
      await play(env, result);
      await playPull(env, result);
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      result.interrupted = true;
      result.final.push('interrupted');
    }

    if (!result.interrupted) await finalChecks(env, result);
    result.pass =
      !result.interrupted && result.final.length === 0 && result.steps.every((s) => s.failures.length === 0);
    await printSummary(env, result);
    if (!result.pass && !result.interrupted) printGatewayLog(env);
    if (o.keep && !o.signal?.aborted) await keepRunning(env);
  } catch (e) {
    if (!(e instanceof Interrupted) && (e as Error).message !== 'interrupted') {
      result.final.push(`the demo could not run: ${(e as Error).message}`);
      out(paint.bad(`FAIL: the demo could not run: ${(e as Error).message}`));
    } else {
      result.interrupted = true;
      out(paint.bad('FAIL: interrupted'));
    }
    result.pass = false;
  } finally {
    await cleanUp(cleanups);
  }
  return result;
}
