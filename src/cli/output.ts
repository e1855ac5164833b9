// How commands speak. stdout carries results: aligned tables for people, one JSON document with
// --json. stderr carries progress and logs: on a terminal one live status line and warnings as short
// readable lines; JSON lines (pino) with --log-format json, --json, or when stderr is not a terminal.
import pino, { type Logger } from 'pino';
import stringWidth from 'string-width';

export type LogFormat = 'human' | 'json';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ''): void {
  status.clear();
  process.stdout.write(`${text}\n`);
}

/** widest a table column may be before its cells are shortened with "…" (the last column is not cut) */
const MAX_COLUMN = 48;

/**
 * One table cell: printable text on one line. Control characters and raw bytes a parser put in a
 * message (a NUL, an escape, a newline) become a visible "?" or a space, so no row breaks or
 * repaints the terminal.
 */
export function cellText(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/** `text` cut to `width` terminal columns (wide CJK characters count two), with "…" when cut */
export function fitWidth(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  let out = '';
  for (const ch of text) {
    if (stringWidth(out + ch) > width - 1) break;
    out += ch;
  }
  return `${out}…`;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - stringWidth(text)));
}

export function printTable(headers: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): void {
  const last = headers.length - 1;
  const cells = [headers.map(cellText), ...rows.map((r) => headers.map((_, i) => (i === last ? cellText(r[i]) : fitWidth(cellText(r[i]), MAX_COLUMN))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i] ?? ''))));
  status.clear();
  for (const row of cells) process.stdout.write(`${row.map((c, i) => (i === last ? c : pad(c, widths[i]!))).join('  ').trimEnd()}\n`);
}

/** The line under a list that was cut: "showing 50 of 1,234 — use --limit/--offset". */
export function printPage(shown: number, offset: number, total: number): void {
  if (shown >= total && offset === 0) return;
  const n = (v: number) => v.toLocaleString('en-US');
  const range = offset > 0 ? `${n(offset + 1)}–${n(offset + shown)}` : n(shown);
  printLine(`showing ${range} of ${n(total)} — use --limit/--offset`);
}

/** Whether stderr shows people a live line (a terminal), or gets plain lines for a log file. */
export const interactive = (): boolean => process.stderr.isTTY === true;

/** The live status line at the bottom of a terminal (a progress bar); logs print above it. */
export const status = {
  shown: '',
  update(text: string): void {
    if (!interactive()) return;
    this.shown = fitWidth(text, Math.max(20, (process.stderr.columns ?? 100) - 1));
    process.stderr.write(`\r${this.shown}\u001b[K`);
  },
  /** erases the line (a log or a result is about to print) */
  clear(): void {
    if (!this.shown) return;
    process.stderr.write('\r\u001b[K');
    this.shown = '';
  },
  /** leaves the line as it is and moves below it */
  done(): void {
    if (!this.shown) return;
    process.stderr.write('\n');
    this.shown = '';
  },
};

/** Prints a line on stderr (a note for people, never a result), above the status line. */
export function note(text: string): void {
  const shown = status.shown;
  status.clear();
  process.stderr.write(`${text}\n`);
  if (shown) status.update(shown);
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'task', 'jobId', 'scanId', 'v']);

/** A pino log object as one short line: "warning: no cover from this track (path: …, reason: …)". */
export function humanLogLine(entry: Record<string, unknown>): string {
  const details = Object.entries(entry)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined && v !== null)
    .map(([k, v]) => `${k}: ${fitWidth(cellText(typeof v === 'object' ? ((v as { message?: string }).message ?? JSON.stringify(v)) : String(v)), 120)}`);
  const level = LEVELS[Number(entry.level)] ?? 'log';
  return `${level}: ${cellText(String(entry.msg ?? ''))}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

/** The command's logger: JSON lines on stderr, or readable lines above the status line on a terminal. */
export function cliLogger(level: string, format: LogFormat): Logger {
  if (format === 'json') return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  return pino(
    { level, base: null, timestamp: false },
    {
      write(line: string) {
        try {
          note(humanLogLine(JSON.parse(line) as Record<string, unknown>));
        } catch {
          note(cellText(line));
        }
      },
    },
  );
}
