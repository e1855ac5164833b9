// Response schemas shared by the routes (OpenAPI at /docs). Objects list what clients rely on and
// allow more, so a new column never breaks an answer.

export const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: true, properties, ...(required.length > 0 ? { required } : {}) });
export const nullable = (type: string) => ({ type: [type, 'null'] });

export const errorSchema = obj({ error: { type: 'string', description: 'a stable code, e.g. not_found, bad_request, outside_roots' }, message: { type: 'string' } }, ['error', 'message']);
/** what every route may answer besides its success */
export const errorResponses = {
  '4xx': { ...errorSchema, description: 'refused: bad input (400), a token needed (401, 403), outside the library roots (403), not found (404), not possible now (409), not a loopback Host (421)' },
  '5xx': { ...errorSchema, description: 'failed on the server (503: similarity search not ready)' },
};

/** a success answer: its schema with what /docs shows as its description (without one it says "Default Response") */
export function ok<T extends object>(description: string, schema: T): T & { description: string } {
  return { ...schema, description };
}

export const scanSchema = obj({
  scanId: { type: 'string' },
  status: { type: 'string', enum: ['running', 'completed', 'failed', 'cancelled'] },
  percent: { type: 'integer' },
  discovered: { type: 'integer' },
  unchanged: { type: 'integer' },
  extracted: { type: 'integer' },
  inserted: { type: 'integer' },
  updated: { type: 'integer' },
  failed: { type: 'integer' },
  filesPerSecond: { type: 'number' },
  root: { type: 'string' },
  startedAt: { type: 'integer' },
  finishedAt: nullable('integer'),
  lastError: nullable('string'),
});

/** one scan in full (GET /scans/:id): the snapshot and what it moved or removed */
export const scanDetailSchema = obj({ ...scanSchema.properties, moved: { type: 'integer' }, removed: { type: 'integer' } });

/** POST /scans: the scan started, or the one already running on that root */
export const scanStartSchema = obj({ scanId: { type: 'string' }, root: { type: 'string' }, started: { type: 'boolean', description: 'false: a scan of this root was already running and is followed instead' } }, ['scanId', 'root', 'started']);

export const rootSchema = obj({ id: { type: 'integer' }, path: { type: 'string' }, added_at: { type: 'integer' }, tracks: { type: 'integer' }, lastScan: { anyOf: [scanSchema, { type: 'null' }] } }, ['id', 'path']);

export const coverSchema = { anyOf: [obj({ source: { type: 'string' }, width: nullable('integer'), height: nullable('integer'), urls: { type: 'object', additionalProperties: { type: 'string' } } }), { type: 'null' }] };

export const trackRowSchema = obj({
  id: { type: 'integer' },
  title: { type: 'string' },
  artist: { type: 'string' },
  artistId: nullable('integer'),
  album: nullable('string'),
  albumId: nullable('integer'),
  trackNo: nullable('integer'),
  year: nullable('integer'),
  duration: nullable('number'),
  path: { type: 'string' },
  bpm: nullable('number'),
  key: nullable('string'),
  scale: nullable('string'),
  lufs: nullable('number'),
});

export const missingTrackSchema = obj({ id: { type: 'integer' }, title: { type: 'string' }, artist: { type: 'string' }, path: { type: 'string' }, missingSince: { type: 'integer' } });

export const albumRowSchema = obj({ id: { type: 'integer' }, title: { type: 'string' }, artist: { type: 'string' }, artistId: { type: 'integer' }, year: nullable('integer'), cover: nullable('string') });
export const artistRowSchema = obj({ id: { type: 'integer' }, name: { type: 'string' }, image: nullable('string') });

/** a page of a list: its items, the paging asked for, and how many match in all */
export function pageOf(item: unknown) {
  return obj({ items: { type: 'array', items: item }, limit: { type: 'integer' }, offset: { type: 'integer' }, total: { type: 'integer' }, totalExact: { type: 'boolean', description: 'false: `total` is a lower bound (counting stops 1,000 past the page)' } }, ['items']);
}

/** a queued job: its id (`<queue>:<id>`), task name and queue */
export const jobRefSchema = obj({ id: { type: 'string' }, name: { type: 'string' }, queue: { type: 'string' } }, ['id', 'name', 'queue']);

/** jobs per queue, then per state */
export const queueCountsSchema = { type: 'object', additionalProperties: obj(Object.fromEntries(['waiting', 'delayed', 'active', 'completed', 'failed'].map((s) => [s, { type: 'integer' }]))) };

export const jobSchema = obj({
  id: { type: 'string' },
  name: { type: 'string' },
  queue: { type: 'string' },
  state: { type: 'string' },
  payload: {},
  priority: { type: 'integer' },
  attemptsMade: { type: 'integer' },
  maxAttempts: { type: 'integer' },
  progress: {},
  result: {},
  error: nullable('string'),
  createdAt: { type: 'integer' },
  startedAt: nullable('integer'),
  finishedAt: nullable('integer'),
});

export const similarAnswerSchema = obj({
  version: { type: 'integer' },
  tracks: { type: 'array', items: obj({ trackId: { type: 'integer' }, similarity: { type: 'number' }, title: { type: 'string' }, artist: { type: 'string' }, artistId: { type: 'integer' }, albumId: nullable('integer'), year: nullable('integer'), bpm: nullable('number') }) },
});

export const modelHealthSchema = obj({
  active: { anyOf: [obj({ version: { type: 'integer' }, ageDays: { type: 'number' }, trackCount: { type: 'integer' }, vectors: { type: 'integer' } }), { type: 'null' }] },
  building: { anyOf: [obj({ version: { type: 'integer' }, vectors: { type: 'integer' }, of: { type: 'integer' } }), { type: 'null' }] },
  readyTracks: { type: 'integer' },
  coverage: { type: 'number', description: 'share of the ready tracks with a vector of the active model' },
  missing: { type: 'integer' },
  warnings: { type: 'array', items: { type: 'string' } },
});

export const anyObject = { type: 'object', additionalProperties: true };

/** an answer that is not JSON: its content types, each a string of bytes or text */
export function nonJson(description: string, contentTypes: string[], format?: 'binary') {
  return { description, content: Object.fromEntries(contentTypes.map((type) => [type, { schema: { type: 'string', ...(format ? { format } : {}) } }])) };
}
