// Response schemas shared by the routes (OpenAPI at /docs). Objects list what clients rely on and
// allow more, so a new column never breaks an answer.

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: true, properties, ...(required.length > 0 ? { required } : {}) });
const nullable = (type: string) => ({ type: [type, 'null'] });

export const errorSchema = obj({ error: { type: 'string', description: 'a stable code, e.g. not_found, bad_request, outside_roots' }, message: { type: 'string' } }, ['error', 'message']);
/** what every route may answer besides its success */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema };

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

export const albumRowSchema = obj({ id: { type: 'integer' }, title: { type: 'string' }, artist: { type: 'string' }, artistId: { type: 'integer' }, year: nullable('integer'), cover: nullable('string') });
export const artistRowSchema = obj({ id: { type: 'integer' }, name: { type: 'string' }, image: nullable('string') });

/** a page of a list: its items, the paging asked for, and how many match in all */
export function pageOf(item: unknown) {
  return obj({ items: { type: 'array', items: item }, limit: { type: 'integer' }, offset: { type: 'integer' }, total: { type: 'integer' } }, ['items']);
}

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
  tracks: { type: 'array', items: obj({ trackId: { type: 'integer' }, similarity: { type: 'number' }, title: { type: 'string' }, artist: { type: 'string' }, artistId: { type: 'integer' }, year: nullable('integer'), bpm: nullable('number') }) },
});

export const anyObject = { type: 'object', additionalProperties: true };
