// The HTTP API (Fastify): the library, scans, jobs, similarity and live progress for the music
// server and its users. OpenAPI at /docs. Binds 127.0.0.1 by default, where it answers only to
// loopback Host names and takes no change from another site's page; bound elsewhere, every
// mutating route needs the bearer token (see auth.ts). Paths from requests never leave the
// configured library roots (see paths.ts).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { requireToken } from './auth.js';
import { mountBullBoard } from './board.js';
import { sendError } from './errors.js';
import { EventHub } from './events_hub.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { jobRoutes } from './routes/jobs.js';
import { libraryRoutes } from './routes/library.js';
import { overviewRoutes } from './routes/overview.js';
import { rootRoutes } from './routes/roots.js';
import { scanRoutes } from './routes/scans.js';
import { vectorRoutes } from './routes/vectors.js';

export interface ApiOptions {
  runtime: Runtime;
  /** the address the server listens on: decides whether the token is required */
  host: string;
  /** bearer token for mutating routes (required when `host` is not a loopback address) */
  token?: string;
}

export interface ApiContext {
  runtime: Runtime;
  events: EventHub;
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  // strictNumbers off: with it, ajv skips minimum/maximum for a value coerced from text to a
  // non-finite number (`?limit=Infinity`, `/tracks/1e309`), which then reached SQLite; without
  // it, the bounds (every number of every schema has both) refuse Infinity
  const app = Fastify({ logger: false, bodyLimit: 1_048_576, ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false, strictNumbers: false } } });
  const events = new EventHub(options.runtime);
  await events.start();
  app.addHook('onClose', async () => events.stop());
  await app.register(swagger, {
    openapi: {
      info: { title: 'SoniqueBay Worker API', version: '0.1.0', description: 'Library, scans, jobs, similarity and live progress of a SoniqueBay music library.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.setErrorHandler(sendError);
  app.addHook('onRequest', requireToken(options.host, options.token));
  const ctx: ApiContext = { runtime: options.runtime, events };
  await app.register(async (scope) => {
    dashboardRoutes(scope, ctx);
    healthRoutes(scope, ctx);
    scanRoutes(scope, ctx);
    rootRoutes(scope, ctx);
    overviewRoutes(scope, ctx);
    libraryRoutes(scope, ctx);
    imageRoutes(scope, ctx);
    vectorRoutes(scope, ctx);
    jobRoutes(scope, ctx);
    eventRoutes(scope, ctx);
  });
  await mountBullBoard(app, options.runtime);
  return app;
}
