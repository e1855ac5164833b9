// Starts the analysis decoder's ffmpeg processes from a small long-lived shell instead of from this
// process, and takes their outputs through Unix sockets instead of inherited pipes.
//
// Why: libuv starts a child with fork() on Linux. After every fork, each page this process writes
// (the V8 heaps of every thread, the mono buffer, the stream chunks) takes a page fault, copy-on-
// write protection being lifted one page at a time. With one ffmpeg per track that was ~13,800
// faults and ~0.3 CPU-s per 4-minute track in the decode alone (now ~0.07 s), and it hit the main
// thread too (the API answering while the library is analysed). `sh` is a few hundred KiB: its
// forks cost nothing measurable. ffmpeg connects to a socket per output (its `unix:` protocol) in a
// private folder of this process (socketDir), and the connection is accepted here.
//
// One shell serves one run at a time; a thread running one track at a time keeps one, and
// concurrent runs in one thread each get their own. A shell that dies is replaced on the next run.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { isMainThread, threadId } from 'node:worker_threads';

/** an ffmpeg process started by a launcher shell */
export interface LaunchedFfmpeg {
  /** per output, the socket ffmpeg connected to it; null if ffmpeg ended without connecting */
  outputs: Promise<Readable | null>[];
  /**
   * ffmpeg's exit status: its code, null when killed by a signal; 127: not installed. Rejects if
   * the shell itself ended first (a failure of this machine's, not of the file's).
   */
  exit: Promise<number | null>;
  /** what ffmpeg (or the shell) wrote on stderr, up to ~4,000 characters */
  stderr(): string;
  /** its process id (null if the shell could not start it) */
  pid: Promise<number | null>;
  /** SIGKILL, now or as soon as its pid is known */
  kill(): void;
}

/** idle shells kept per thread: more only if runs overlap, which one track per thread does not */
const IDLE_KEPT = 2;
/** a Unix socket path must fit in sockaddr_un (108 bytes with its NUL) */
const SOCKET_PATH_MAX = 100;

const idle: LauncherShell[] = [];
let runs = 0;

/**
 * Runs ffmpeg with `args(outputUrls)` (one `unix:` URL per output, to put where ffmpeg writes),
 * stdin and stdout closed, started by a launcher shell.
 */
export async function launchFfmpeg(args: (outputUrls: string[]) => string[], outputCount: number): Promise<LaunchedFfmpeg> {
  const dir = socketDir();
  const run = ++runs;
  const servers = await Promise.all(Array.from({ length: outputCount }, (_, i) => listen(path.join(dir, `${threadId}-${run}-${i}.sock`))));
  let shell = idle.pop();
  while (shell && !shell.alive) shell = idle.pop();
  shell ??= new LauncherShell();
  let launched: LaunchedFfmpeg;
  try {
    launched = shell.start(args(servers.map((s) => `unix:${s.path}`)), servers);
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  const release = () => {
    if (shell.alive && idle.length < IDLE_KEPT) idle.push(shell);
    else shell.end();
  };
  launched.exit.then(release, release);
  return launched;
}

const PREFIX = `soniquebay-ffmpeg-${process.getuid?.() ?? 0}-`;
const socketBase = (): string => (os.tmpdir().length + 60 <= SOCKET_PATH_MAX ? os.tmpdir() : '/tmp');
let checked = false;

/**
 * This process's socket folder, shared by its threads: created private (0700) or, when it exists,
 * used only if it is a real folder of ours that nobody else can enter. The first call in a thread
 * also removes the folders of this user's processes that are gone (a crash leaves one behind).
 */
function socketDir(): string {
  const base = socketBase();
  const dir = path.join(base, `${PREFIX}${process.pid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const stat = fs.lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== (process.getuid?.() ?? stat.uid) || (stat.mode & 0o077) !== 0) throw new Error(`${dir} is not a private folder of this user: the analysis decoder will not use it`);
  }
  if (!checked) {
    checked = true;
    for (const name of fs.readdirSync(base)) {
      const pid = name.startsWith(PREFIX) ? Number(name.slice(PREFIX.length)) : NaN;
      if (Number.isInteger(pid) && pid !== process.pid && !processExists(pid)) fs.rmSync(path.join(base, name), { recursive: true, force: true });
    }
  }
  if (isMainThread) removeSocketDirAtExit();
  return dir;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let removalRegistered = false;

/**
 * Removes this process's socket folder when the process exits. Worker threads end without an
 * exit event, so the main thread registers it: the analysis pool does when it starts.
 */
export function removeSocketDirAtExit(): void {
  if (removalRegistered) return;
  removalRegistered = true;
  const dir = path.join(socketBase(), `${PREFIX}${process.pid}`);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}

interface OutputServer {
  path: string;
  /** the first connection, or null once closed without one */
  connection: Promise<net.Socket | null>;
  close(): void;
}

function listen(socketPath: string): Promise<OutputServer> {
  return new Promise((resolve, reject) => {
    let settle: (socket: net.Socket | null) => void = () => {};
    const connection = new Promise<net.Socket | null>((r) => (settle = r));
    const server = net.createServer((socket) => {
      settle(socket);
      close();
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      server.close();
      fs.rm(socketPath, { force: true }, () => {});
      settle(null);
    };
    server.once('error', reject);
    // a socket file left by a crashed run of this process id would refuse the address
    fs.rmSync(socketPath, { force: true });
    server.listen(socketPath, () => resolve({ path: socketPath, connection, close }));
  });
}

/** POSIX shell quoting: the value between single quotes, each quote written '\'' */
function quote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

class LauncherShell {
  private readonly child: ChildProcess;
  private lines = '';
  private readonly waiting: ((line: string | null) => void)[] = [];
  private errors: ((text: string) => void) | undefined;
  alive = true;

  constructor() {
    // the calling thread's nice value is inherited by the shell, and from it by every ffmpeg
    this.child = spawn('sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.lines += text;
      for (let end = this.lines.indexOf('\n'); end >= 0; end = this.lines.indexOf('\n')) {
        const line = this.lines.slice(0, end);
        this.lines = this.lines.slice(end + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => this.errors?.(text));
    this.child.stdin!.on('error', () => {});
    this.child.once('error', () => this.died());
    this.child.once('exit', () => this.died());
    this.idle();
  }

  private died(): void {
    this.alive = false;
    for (const waiter of this.waiting.splice(0)) waiter(null);
  }

  private nextLine(): Promise<string | null> {
    return this.alive ? new Promise((resolve) => this.waiting.push(resolve)) : Promise.resolve(null);
  }

  /** an idle shell keeps no process (nor thread) alive; a running one does */
  private idle(): void {
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as net.Socket | null)?.unref();
  }

  private busy(): void {
    this.child.ref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as net.Socket | null)?.ref();
  }

  start(args: string[], servers: OutputServer[]): LaunchedFfmpeg {
    if (!this.alive) throw new Error('the ffmpeg launcher shell has ended');
    this.busy();
    let stderr = '';
    this.errors = (text) => {
      if (stderr.length < 4_000) stderr += text;
    };
    const pidLine = this.nextLine();
    const exitLine = this.nextLine();
    this.child.stdin!.write(`ffmpeg ${args.map(quote).join(' ')} </dev/null >/dev/null & echo "pid $!"; wait $!; echo "exit $?"\n`);
    let pid: number | undefined;
    let killed = false;
    let exited = false;
    const killNow = () => {
      // not once the shell has reaped it: its pid may belong to another process by then
      if (pid !== undefined && !exited) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    const started = pidLine.then((line) => {
      pid = line?.startsWith('pid ') ? Number(line.slice(4)) : undefined;
      if (killed) killNow();
      return pid ?? null;
    });
    const exit = exitLine.then((line) => {
      exited = true;
      this.errors = undefined;
      // ffmpeg connects to each output as it opens it, before it writes: after a clean exit every
      // connection is here or waiting in the socket's backlog (the server closes once it has it);
      // after a failure, an output it never opened is null
      const status = line === null ? undefined : Number(line.slice(5));
      if (status !== 0) for (const server of servers) server.close();
      if (status === undefined) throw new Error(`the ffmpeg launcher shell ended${stderr ? `: ${stderr.trim()}` : ''}`);
      this.idle();
      // the shell reports a process killed by signal n as 128 + n
      return status > 128 ? null : status;
    });
    const outputs = servers.map((server) => server.connection);
    return {
      outputs,
      exit,
      stderr: () => stderr,
      pid: started,
      kill: () => {
        killed = true;
        killNow();
      },
    };
  }

  end(): void {
    this.alive = false;
    this.child.stdin!.end();
  }
}
