// One scan per root, race-free (issue 17), on both runtimes: 20 scans of one root started at random
// moments from `soniquebay scan` processes and POST /scans. Exactly one runs at a time, every id the
// API returns is queryable at once, and every CLI command exits (following the running scan when
// there is one) with that scan's outcome.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { buildApi } from '../../src/api/server.js';
import type { Config } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { runtimeSetups as setups } from '../helpers/runtimes.js';

const CLI = path.resolve('src/cli.ts');
const STARTS = 20;
const CLI_STARTS = 6;
const CLI_EXIT_MS = 180_000;

function envOf(config: Config): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SONIQUEBAY_LOG_LEVEL: '',
    SONIQUEBAY_DATA_DIR: config.dataDir,
    SONIQUEBAY_ANALYSIS: 'false',
    SONIQUEBAY_OUTSIDE_LOOKUPS: 'false',
    ...(config.brokerUrl ? { SONIQUEBAY_BROKER_URL: config.brokerUrl, SONIQUEBAY_REDIS_PREFIX: config.redisPrefix } : {}),
    ...(config.databaseUrl ? { SONIQUEBAY_DATABASE_URL: config.databaseUrl } : {}),
  };
}

/** `soniquebay scan <root> --json`; resolves with its exit code and summary, rejects if it does not exit */
function cliScan(root: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; scanId: string; status: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'scan', root, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`scan command did not exit within ${CLI_EXIT_MS / 1000} s: ${stderr}`));
    }, CLI_EXIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        const summary = JSON.parse(stdout) as { scanId: string; status: string };
        resolve({ code, scanId: summary.scanId, status: summary.status, stderr });
      } catch {
        reject(new Error(`no summary (exit ${code}): ${stdout} ${stderr}`));
      }
    });
  });
}

for (const setup of setups) {
  describe(`one scan per root, race-free: ${setup.name}`, () => {
    let dir: string;
    let manifest: FixtureManifest;
    let runtime: Runtime;
    let app: FastifyInstance;
    let config: Config;
    let cleanup: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-race-'));
      manifest = await generateLibrary({ tracks: 40, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
      const made = await setup.config(path.join(dir, 'data'));
      cleanup = made.cleanup;
      config = { ...made.config, analysis: false, libraryRoots: [manifest.root] };
      runtime = await openRuntime(config, testLogger);
      app = await buildApi({ runtime, host: '127.0.0.1' });
    });
    after(async () => {
      await app?.close();
      await runtime?.close();
      await cleanup?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it(`${STARTS} starts at random moments (${CLI_STARTS} from the CLI): one at a time, every id queryable at once, every command exits`, async () => {
      const db = runtime.database.db;
      const worker = await runtime.broker.startWorker(); // runs the scans the API starts
      const env = envOf(config);
      const apiIds: string[] = [];
      const cliRuns: Promise<{ code: number | null; scanId: string; status: string; stderr: string }>[] = [];
      let maxRunning = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const running = await db.selectFrom('scans').select('id').where('status', '=', 'running').execute();
          maxRunning = Math.max(maxRunning, running.length);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      try {
        const kinds = Array.from({ length: STARTS }, (_, i) => (i % Math.round(STARTS / CLI_STARTS) === 0 && i / Math.round(STARTS / CLI_STARTS) < CLI_STARTS ? 'cli' : 'api'));
        const seed = Date.now();
        let state = seed % 2_147_483_647;
        const random = () => ((state = (state * 48_271) % 2_147_483_647) / 2_147_483_647);
        const starts = kinds.map(async (kind) => {
          await new Promise((r) => setTimeout(r, random() * 15_000));
          if (kind === 'cli') {
            cliRuns.push(cliScan(manifest.root, env));
            return;
          }
          const res = await app.inject({ method: 'POST', url: '/scans', payload: { root: manifest.root } });
          assert.ok(res.statusCode === 202 || res.statusCode === 200, res.body);
          const { scanId } = res.json() as { scanId: string };
          // queryable from the moment it is returned, whoever runs it and however busy the workers are
          const status = await app.inject(`/scans/${scanId}`);
          assert.equal(status.statusCode, 200, `GET /scans/${scanId} right after POST (seed ${seed})`);
          apiIds.push(scanId);
        });
        await Promise.all(starts);
        const cli = await Promise.all(cliRuns);
        for (const run of cli) {
          assert.equal(run.code, 0, `CLI exit code with ${run.status}: ${run.stderr}`);
          assert.equal(run.status, 'completed');
        }
        // the scans the API started end too
        for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 100))) {
          if ((await db.selectFrom('scans').select('id').where('status', '=', 'running').execute()).length === 0) break;
          assert.ok(Date.now() < deadline, 'a scan still running 2 minutes after the last start');
        }
      } finally {
        sampling = false;
        await sampler;
        await worker.close();
      }
      assert.equal(maxRunning, 1, 'never two running scans of the root');
      const scans = await db.selectFrom('scans').selectAll().orderBy('started_at').execute();
      for (let i = 1; i < scans.length; i++) assert.ok(scans[i]!.started_at >= scans[i - 1]!.finished_at!, `scans ${scans[i - 1]!.id} and ${scans[i]!.id} overlap`);
      assert.ok(scans.every((s) => s.status === 'completed'), JSON.stringify(scans.map((s) => [s.status, s.last_error])));
      for (const id of apiIds) assert.ok(scans.some((s) => s.id === id), `scan ${id} returned by the API exists`);
      assert.ok(scans.length >= 1 && scans.length <= STARTS);
    });
  });
}
