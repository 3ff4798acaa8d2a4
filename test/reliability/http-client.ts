import { connect, type Socket } from 'node:net';

/**
 * A minimal HTTP/1.1 client over raw keep-alive sockets with pipelining, for pushing a large
 * number of small requests at one server from one core. It reads answers by Content-Length
 * (the gateway always sends one) and times each request from the moment it was written.
 */

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  ms: number;
}

interface InFlight {
  sentAt: number;
  resolve: (a: Answer | Error) => void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

export function requestBytes(
  method: string,
  path: string,
  body: Buffer,
  contentType: string | undefined,
  extra = '',
): Buffer {
  const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`}Content-Length: ${body.length}\r\n${extra}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export class PipelinedConnection {
  private readonly socket: Socket;
  private readonly queue: InFlight[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private closedError: Error | undefined;
  readonly ready: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (e) => (this.closedError ??= e));
    this.socket.on('close', () => {
      this.closedError ??= new Error('connection closed');
      for (const q of this.queue.splice(0)) q.resolve(this.closedError);
    });
  }

  get inFlight(): number {
    return this.queue.length;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Writes one request now; resolves with its answer, or an Error when the connection ended first. */
  send(raw: Buffer): Promise<Answer | Error> {
    if (this.closedError) return Promise.resolve(this.closedError);
    return new Promise((resolve) => {
      this.queue.push({ sentAt: performance.now(), resolve });
      this.socket.write(raw);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(head[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      this.buf = this.buf.subarray(end + 4 + length);
      const q = this.queue.shift();
      if (q) q.resolve({ status, headers, body, ms: performance.now() - q.sentAt });
      if (headers.connection === 'close') this.socket.end();
    }
  }
}
