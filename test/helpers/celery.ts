// A real Python Celery client (test/helpers/celery-client.py on Debian's python3-celery), driven
// from tests and the Celery benchmark, and the Redis database Celery uses there.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Debian's python3 (python3-celery, python3-redis); `python3` on PATH may be another one */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = path.resolve(import.meta.dirname, 'celery-client.py');

/**
 * Celery keeps plain key names (queue lists, celery-task-meta-*) in a Redis database: tests and
 * the benchmark use a database of their own on REDIS_URL's server, emptied before and after.
 */
export function celeryDatabaseUrl(redisUrl: string, db: number): string {
  const url = new URL(redisUrl);
  url.pathname = `/${db}`;
  return url.toString();
}

export interface CeleryFailure {
  type: string;
  module: string;
  message: string;
}

export interface CeleryAnswer {
  status: string;
  result?: unknown;
  error?: CeleryFailure;
  traceback?: string | null;
}

export interface SendOptions {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string;
  priority?: number;
  /** 'gzip' (the default, as the original worker) or null for none */
  compression?: 'gzip' | null;
  /** with soniquebay-client.py: which of SoniqueBay's two Celery apps sends (contract §1.1) */
  app?: 'api' | 'worker';
}

/** SoniqueBay's own two Celery apps, exactly as configured upstream */
export const SONIQUEBAY_CLIENT = path.resolve(import.meta.dirname, 'soniquebay-client.py');

export class CeleryClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: ((line: string) => void)[] = [];
  private stderr = '';

  constructor(brokerUrl: string, resultUrl: string, script = SCRIPT) {
    this.child = spawn(SYSTEM_PYTHON, [script, brokerUrl, resultUrl], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.setMaxListeners(0); // one exit listener per request in flight
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.pending.shift()?.(line));
  }

  private request<T>(request: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`the Python Celery client exited:\n${this.stderr}`));
      this.child.once('exit', onExit);
      this.pending.push((line) => {
        this.child.off('exit', onExit);
        const answer = JSON.parse(line) as T & { fatal?: string };
        if (answer.fatal) reject(new Error(`Python Celery client: ${answer.fatal}\n${this.stderr}`));
        else resolve(answer);
      });
      this.child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  async send(name: string, options: SendOptions = {}): Promise<string> {
    return (await this.request<{ id: string }>({ op: 'send', name, ...options })).id;
  }

  /** AsyncResult(id).get(timeout=…): the result, or the exception Python raised */
  get(id: string, timeoutSeconds = 20): Promise<CeleryAnswer> {
    return this.request({ op: 'get', id, timeout: timeoutSeconds });
  }

  async state(id: string): Promise<string> {
    return (await this.request<{ state: string }>({ op: 'state', id })).state;
  }

  /** `count` calls of a task without arguments, published on one connection */
  async bulk(name: string, count: number, queue: string): Promise<string[]> {
    return (await this.request<{ ids: string[] }>({ op: 'bulk', name, count, queue })).ids;
  }

  close(): void {
    this.child.stdin.end();
  }
}
