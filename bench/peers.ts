// The peers bench:scan times beside `soniquebay scan`, each as its user runs it, with a private
// configuration in a temp dir (nothing of the machine's own setup is read or changed):
//   beets (Python, Debian `beets`): `beet import -A -q` (album mode, no autotagging, no copy, no
//     writes), `beet import -A -s -q` (singleton mode); rescans are `beet update` (re-reads files
//     whose mtime changed);
//   mpd (C++, Debian `mpd` + `mpc`): a daemon on 127.0.0.1 on its own port, its own database, no
//     audio output; its first scan is the update it runs at start on an empty database, rescans are
//     `mpc update --wait`.
// Install them with `apt-get install beets mpd mpc` (not in CI: benchmarks are not tests).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function beetsVersion(): string {
  try {
    return /beets version (\S+)/.exec(execFileSync('beet', ['version'], { env: { ...process.env, BEETSDIR: '/nonexistent-beetsdir' } }).toString())?.[1] ?? '?';
  } catch {
    return '?';
  }
}

export function mpdVersion(): string {
  try {
    return /Music Player Daemon (\S+)/.exec(execFileSync('mpd', ['--version']).toString())?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** A private beets setup: its config, library database and (unused) music folder in `dir`. */
export function beetsSetup(dir: string): { env: NodeJS.ProcessEnv; args: string[] } {
  fs.mkdirSync(path.join(dir, 'music'), { recursive: true });
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    [
      `directory: ${JSON.stringify(path.join(dir, 'music'))}`,
      `library: ${JSON.stringify(path.join(dir, 'library.db'))}`,
      'plugins: []',
      'threaded: yes',
      'import:',
      '  copy: no',
      '  move: no',
      '  write: no',
      '  resume: no',
      '  incremental: no',
      '  quiet_fallback: asis',
      '',
    ].join('\n'),
  );
  return { env: { ...process.env, BEETSDIR: dir }, args: ['-c', config] };
}

/**
 * One mpd daemon's private config. Started (`mpd --no-daemon <configFile>`, by the bench, which
 * measures it) on an empty database, it begins its first scan by itself.
 */
export class MpdDaemon {
  readonly port: number;

  constructor(
    private readonly dir: string,
    private readonly musicDir: string,
    port: number,
  ) {
    this.port = port;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      this.configFile,
      [
        `music_directory ${JSON.stringify(musicDir)}`,
        `db_file ${JSON.stringify(path.join(dir, 'database'))}`,
        `log_file ${JSON.stringify(path.join(dir, 'log'))}`,
        `pid_file ${JSON.stringify(path.join(dir, 'pid'))}`,
        `state_file ${JSON.stringify(path.join(dir, 'state'))}`,
        'log_level "warning"',
        'bind_to_address "127.0.0.1"',
        `port "${port}"`,
        'auto_update "no"',
        'zeroconf_enabled "no"',
        'audio_output {',
        '  type "null"',
        '  name "null"',
        '}',
        '',
      ].join('\n'),
    );
  }

  get configFile(): string {
    return path.join(this.dir, 'mpd.conf');
  }

  /** the daemon's pid, from its pid file */
  get pid(): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.dir, 'pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** `mpc` arguments that reach this daemon */
  mpc(...args: string[]): string[] {
    return ['-h', '127.0.0.1', '-p', String(this.port), ...args];
  }

  /** one MPD protocol command, its `key: value` lines */
  async command(cmd: string): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1');
      let text = '';
      let sent = false;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (!sent && text.startsWith('OK MPD') && text.includes('\n')) {
          sent = true;
          text = '';
          socket.write(`${cmd}\n`);
        } else if (sent && (/(^|\n)OK\n$/.test(text) || text.startsWith('ACK'))) {
          socket.end();
          const out: Record<string, string> = {};
          for (const line of text.split('\n')) {
            const at = line.indexOf(': ');
            if (at > 0) out[line.slice(0, at)] = line.slice(at + 2);
          }
          resolve(out);
        }
      });
      socket.on('error', reject);
    });
  }

  /** Resolves when the daemon answers and no database update is running or pending any more. */
  async settled(timeoutMs: number, pollMs = 20): Promise<{ songs: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`mpd did not finish its update in ${timeoutMs} ms (log: ${path.join(this.dir, 'log')})`);
      try {
        const status = await this.command('status');
        if (status.updating_db === undefined) {
          const stats = await this.command('stats');
          if (Number(stats.db_update ?? 0) > 0) return { songs: Number(stats.songs ?? 0) };
        }
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** SIGTERM, then SIGKILL after 5 s */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (!alive()) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    if (alive()) process.kill(pid, 'SIGKILL');
  }
}

/** A TCP port nobody listens on right now, on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
