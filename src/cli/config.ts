import { Command } from 'commander';
import { redactUrl } from '../config.js';
import { queueSettingsFrom } from '../runtime.js';
import { buildSchedules } from '../schedules.js';
import { configOf } from './context.js';
import { printJson, printLine, printTable } from './output.js';

export function configCommand(): Command {
  return new Command('config')
    .description('the effective configuration (passwords in URLs hidden), queues and periodic tasks')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, command: Command) => {
      const config = configOf(command, { api: true });
      const hidden = (key: string | undefined) => (key ? '***' : undefined);
      const shown = { ...config, brokerUrl: redactUrl(config.brokerUrl), databaseUrl: redactUrl(config.databaseUrl), lastfmApiKey: hidden(config.lastfmApiKey), fanartApiKey: hidden(config.fanartApiKey), api: { ...config.api, token: hidden(config.api.token) } };
      const queues = queueSettingsFrom(config);
      const schedules = buildSchedules(config.schedules, config.timezone);
      if (opts.json) return printJson({ config: shown, queues, schedules });
      printLine(`data folder:   ${config.dataDir}`);
      printLine(`library roots: ${config.libraryRoots.length > 0 ? config.libraryRoots.join(', ') : '(none)'}`);
      printLine(`broker:        ${shown.brokerUrl ?? 'embedded (SQLite in the data folder)'}`);
      printLine(`database:      ${shown.databaseUrl ?? 'SQLite in the data folder'}`);
      printLine();
      printTable(['queue', 'concurrency', 'rate limit'], Object.entries(queues).map(([q, s]) => [q, s.concurrency, s.rateLimit ? `${s.rateLimit.max}/${s.rateLimit.durationMs} ms` : '-']));
      printLine();
      printTable(['periodic task', 'cron', 'task'], schedules.map((s) => [s.id, `${s.cron} (${s.timezone})`, s.task]));
    });
}
