import type { ChannelPayload } from '../../../effects/channel/types.js';
import type { DeliveryResult, StatusRecord } from '@b24-im-gateway/sandbox';
import type { ChannelHit } from './channel.js';
import type { Env } from './environment.js';
import { pad, quote, short } from './format.js';
import { keyFields } from './key-fields.js';
import { batchCommands, gatewayCalls, lastSeq } from './records.js';
import type { DemoResult, DemoStep } from './types.js';
import { Interrupted, until } from './wait.js';

// One step of the conversation: prints its transcript, waits for the gateway's effects, checks them.

export class Step {
  readonly failures: string[] = [];
  readonly ids: number[] = [];
  readonly outcomes = new Map<number, { id: number; code: string; status: string }>();
  sent = '';
  channelTypes: string[] = [];
  back: string[] = [];
  readonly mark: number;
  readonly channelMark: number;
  /** The recorder's last call printed back. */
  private printed: number;

  constructor(
    readonly env: Env,
    readonly n: number,
    readonly title: string,
  ) {
    this.mark = lastSeq(env.sb);
    this.printed = this.mark;
    this.channelMark = env.channel.hits.length;
  }

  /** One line of the transcript: who talks to whom, in a fixed-width column, then what. */
  line(who: string, text: string): void {
    const { paint } = this.env;
    const colour = who.startsWith('gateway store')
      ? paint.gw
      : who.includes('channel') || who.startsWith('client')
        ? paint.ch
        : who
          ? paint.b24
          : (x: string) => x;
    this.env.out(`   ${colour(pad(who, 24))}${text}`);
  }

  check(ok: boolean, failure: string): boolean {
    if (!ok) this.failures.push(failure);
    return ok;
  }

  /** Prints what Bitrix24 sent and how the gateway answered; returns the gateway's event ids. */
  delivered(result: DeliveryResult): number[] {
    const { paint } = this.env;
    if (result.deliveries.length === 0)
      this.check(false, `${result.code}: no handler was bound, Bitrix24 sent nothing`);
    const ids: number[] = [];
    for (const d of result.deliveries) {
      let id: number | undefined;
      try {
        id = (JSON.parse(d.responseBody ?? '') as { id?: number }).id;
      } catch {
        id = undefined;
      }
      const answer =
        d.status === 200 && id !== undefined
          ? paint.ok(`200, stored as event #${id}`)
          : paint.bad(`${d.status || 'no answer'} ${d.error ?? short(d.responseBody, 120)}`);
      this.line('Bitrix24 -> gateway', `${paint.bold(d.code)}  ${keyFields(d.code, d.payload)}`);
      this.line('', `<- ${answer}`);
      const gone = this.env.gateway.gone();
      const why = d.status
        ? `was answered ${d.status}`
        : `got no answer (${d.error ?? 'no connection'}${gone ? `; the gateway process ${gone}` : ''})`;
      if (this.check(d.status === 200 && id !== undefined, `${d.code} ${why}`)) ids.push(id!);
    }
    this.ids.push(...ids);
    this.sent = [this.sent, result.code].filter(Boolean).join(' + ');
    return ids;
  }

  /** Waits until the gateway finished every event of the step. */
  async done(ids = this.ids): Promise<void> {
    const { store, paint } = this.env;
    for (const id of ids) {
      const event = await this.wait(
        async () => {
          const e = await store.getEvent(id);
          return e && (e.status === 'done' || e.status === 'dead' || e.status === 'invalid') ? e : undefined;
        },
        `event #${id} to be processed`,
        () => store.getEvent(id),
      );
      if (!event) continue;
      this.outcomes.set(id, { id, code: event.code, status: event.status });
      const retries = event.attempts > 1 ? ` after ${event.attempts} attempts` : '';
      const status =
        event.status === 'done'
          ? paint.ok(`done${retries}`)
          : paint.bad(`${event.status}${event.lastError ? `: ${event.lastError}` : ''}`);
      this.line('gateway store', `event #${id} ${event.code}: ${status}`);
      this.check(event.status === 'done', `event #${id} ${event.code} is ${event.status}`);
    }
  }

  /** The channel payloads of an event (first deliveries, not retries), after it is done. */
  channelGot(eventId: number, expected: ChannelPayload['type'][]): ChannelHit[] {
    const { paint } = this.env;
    const hits = this.env.channel.hits
      .slice(this.channelMark)
      .filter((h) => h.payload.source.eventId === eventId && !h.repeat);
    for (const h of hits) {
      const p = h.payload;
      let detail = '';
      if (p.type === 'message.created' || p.type === 'message.updated')
        detail = `${quote(p.message.text)}${p.type === 'message.updated' ? ` for ids ${JSON.stringify(p.message.externalIds)}` : ''}`;
      else if (p.type === 'message.deleted')
        detail = `ids ${JSON.stringify(p.message.externalIds)}, Bitrix24 message ${p.message.bitrixMessageId}`;
      else if (p.type === 'dialog.started' || p.type === 'dialog.finished')
        detail = `chat ${p.chat.externalId}, session ${p.dialog.sessionId}`;
      const answer = h.answer.externalMessageIds ? ` <- 200 ${JSON.stringify(h.answer)}` : ' <- 200';
      this.line(
        'gateway -> channel',
        `${paint.bold(p.type)} ${detail}  ${paint.dim(`(signature ok, ${p.id})`)}${answer}`,
      );
    }
    if (expected.length === 0 && hits.length === 0)
      this.line('gateway -> channel', paint.dim('nothing: not a connector event, stored and marked done'));
    this.channelTypes.push(...hits.map((h) => h.payload.type));
    this.check(
      hits.length === expected.length && hits.every((h, i) => h.payload.type === expected[i]),
      `event #${eventId}: the channel got [${hits.map((h) => h.payload.type).join(', ')}], expected [${expected.join(', ')}]`,
    );
    return hits;
  }

  /** Waits for delivery statuses of these Bitrix24 message ids to reach the sandbox. */
  async statuses(expected: { chatId: number; messageId: number; externalIds: string[] }[]): Promise<StatusRecord[]> {
    const { sb } = this.env;
    const found = (e: { messageId: number }) =>
      sb.recorder.statuses().find((s) => s.seq > this.mark && s.kind === 'delivery' && s.messageId === e.messageId);
    const got = await this.wait(
      () => (expected.every(found) ? expected.map((e) => found(e)!) : undefined),
      `imconnector.send.status.delivery for ${expected.map((e) => e.messageId).join(', ')}`,
      () => expected.map(found).filter((s): s is StatusRecord => s !== undefined),
    );
    for (const e of expected) {
      const s = got.find((g) => g.messageId === e.messageId);
      if (!s) continue;
      this.check(
        s.chatId === e.chatId,
        `status for message ${e.messageId} names chat ${s.chatId}, expected ${e.chatId}`,
      );
      this.check(
        JSON.stringify(s.externalIds) === JSON.stringify(e.externalIds),
        `status for message ${e.messageId} has message.id ${JSON.stringify(s.externalIds)}, expected ${JSON.stringify(e.externalIds)}`,
      );
      this.check(s.known, `status for message ${e.messageId}: the sandbox never sent that message`);
    }
    return got;
  }

  /** Prints the gateway's REST calls since the step began. */
  printBack(statuses: StatusRecord[] = []): void {
    const { sb, paint } = this.env;
    // Only what was not printed yet: a step may print back twice.
    const calls = gatewayCalls(sb, this.printed);
    this.printed = lastSeq(sb);
    for (const c of calls) {
      const inBatch = c.method === 'batch' ? ` (${batchCommands(sb, c).length} commands)` : '';
      const answer = c.httpStatus === 200 ? paint.ok('200') : paint.bad(`${c.httpStatus} ${c.error ?? ''}`);
      if (c.method === 'app.info') {
        this.line(
          'gateway -> Bitrix24',
          `${paint.bold('app.info')} with the install's access token, on the portal's own domain <- ${answer}`,
        );
        this.back.push(`app.info ${c.httpStatus}`);
        continue;
      }
      this.line('gateway -> Bitrix24', `${paint.bold(c.method)}${inBatch} <- ${answer}`);
    }
    for (const s of statuses) {
      this.line(
        '',
        `MESSAGES: im {chat_id ${s.chatId}, message_id ${s.messageId}}, message.id ${JSON.stringify(s.externalIds)}, chat.id ${s.externalChatId}`,
      );
      this.back.push(`status.delivery ${s.messageId} ${JSON.stringify(s.externalIds)}`);
    }
    if (calls.length === 0 && statuses.length === 0)
      this.line('gateway -> Bitrix24', paint.dim('nothing (no delivery status for this event)'));
  }

  report(): DemoStep {
    return {
      n: this.n,
      title: this.title,
      sent: this.sent || '-',
      events: this.ids.map((id) => this.outcomes.get(id) ?? { id, code: '?', status: 'unknown' }),
      channel: this.channelTypes.length ? this.channelTypes.join(', ') : '-',
      back: this.back.length ? this.back.join('; ') : '-',
      failures: this.failures,
    };
  }

  /** Waits for what the gateway does within the step's timeout; a timeout is the step's failure, and answers undefined. */
  waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T | undefined> {
    return this.wait(probe, what, () => undefined);
  }

  /** Waits for `probe` within the step's timeout; a timeout or a gone gateway is a failure of the step, and `fallback` answers instead. */
  private async wait<T, F>(
    probe: () => T | undefined | Promise<T | undefined>,
    what: string,
    fallback: () => F | Promise<F>,
  ): Promise<T | F> {
    const { timeoutMs, signal, gateway } = this.env;
    try {
      return await until(probe, what, timeoutMs, signal, gateway.gone);
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      this.check(false, (e as Error).message);
      return fallback();
    }
  }
}

/** Runs one numbered step: its title, its body, then its failures or ok; adds its report to the result. */
export async function step(
  env: Env,
  result: DemoResult,
  title: string,
  body: (s: Step) => Promise<void>,
): Promise<void> {
  const s = new Step(env, result.steps.length + 1, title);
  env.out('');
  env.out(env.paint.bold(`${s.n}. ${title}`));
  try {
    await body(s);
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    s.check(false, (e as Error).message);
  }
  for (const f of s.failures) env.out(`   ${env.paint.bad(`FAIL ${f}`)}`);
  if (s.failures.length === 0) env.out(`   ${env.paint.ok('ok')}`);
  result.steps.push(s.report());
}
