import pino, { type Logger } from 'pino';

/** Logs go to stderr as JSON lines, so stdout stays clean for `--json` output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}
