// Celery task messages as kombu's Redis transport stores them: each list item is a JSON envelope
// {body, content-type, content-encoding, headers, properties}. With Celery's message protocol 2
// the task name and id are in the headers, and the body (base64 when properties.body_encoding
// says so, zlib-compressed when headers.compression is application/x-gzip) is the JSON array
// [args, kwargs, embed].
import zlib from 'node:zlib';

export interface CeleryMessage {
  /** the Celery task id (AsyncResult id) */
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** kombu's Redis priority: 0 (first) … 9 */
  priority: number;
  /** epoch ms before which the task must not run (Celery eta/countdown) */
  eta: number | null;
  /** epoch ms after which the task must not run any more */
  expires: number | null;
  ignoreResult: boolean;
  parentId: string | null;
  groupId: string | null;
}

/** A message the bridge cannot run. `taskId` is set when a result can still tell the sender. */
export class CeleryMessageError extends Error {
  constructor(
    message: string,
    readonly taskId: string | null,
    readonly ignoreResult = false,
  ) {
    super(message);
    this.name = 'CeleryMessageError';
  }
}

// kombu registers zlib under this content type (aliases gzip, zlib)
const ZLIB_COMPRESSION = 'application/x-gzip';

export function parseMessage(raw: string): CeleryMessage {
  let envelope: unknown;
  try {
    envelope = JSON.parse(raw);
  } catch {
    throw new CeleryMessageError('not a kombu message: the list item is not JSON', null);
  }
  if (!isRecord(envelope)) throw new CeleryMessageError('not a kombu message: the list item is not a JSON object', null);
  const headers = isRecord(envelope.headers) ? envelope.headers : {};
  const properties = isRecord(envelope.properties) ? envelope.properties : {};
  const headerId = typeof headers.id === 'string' && headers.id !== '' ? headers.id : null;
  const ignoreResult = headers.ignore_result === true;
  const fail = (why: string, id = headerId): never => {
    throw new CeleryMessageError(why, id, ignoreResult);
  };

  const contentType = envelope['content-type'];
  if (contentType !== 'application/json') {
    fail(`content type ${JSON.stringify(contentType)} is not supported: the SoniqueBay bridge reads JSON messages only (task_serializer="json")`);
  }
  const body = decodeBody(envelope.body, properties.body_encoding, headers.compression, fail);

  if (typeof headers.task !== 'string') {
    if (isRecord(body) && typeof body.task === 'string') {
      fail('Celery message protocol 1 is not supported: send protocol 2 (task_protocol=2, the default since Celery 4)', typeof body.id === 'string' ? body.id : null);
    }
    fail('not a Celery task message: headers.task is missing');
  }
  if (!headerId) fail('not a Celery task message: headers.id is missing', null);
  if (!Array.isArray(body) || body.length !== 3 || !Array.isArray(body[0]) || !isRecord(body[1])) {
    fail('the message body is not [args, kwargs, embed] (Celery message protocol 2)');
  }
  const [args, kwargs, embed] = body as [unknown[], Record<string, unknown>, unknown];
  if (isRecord(embed)) {
    const canvas = ['callbacks', 'errbacks', 'chain', 'chord'].filter((key) => embed[key] !== null && embed[key] !== undefined && !(Array.isArray(embed[key]) && embed[key].length === 0));
    if (canvas.length > 0) fail(`Celery canvas (${canvas.join(', ')}) is not supported by the SoniqueBay bridge: send each task on its own`);
  }
  return {
    id: headerId!,
    task: headers.task as string,
    args,
    kwargs,
    priority: typeof properties.priority === 'number' && Number.isInteger(properties.priority) ? Math.min(9, Math.max(0, properties.priority)) : 0,
    eta: timeOf(headers.eta, 'eta', fail),
    expires: timeOf(headers.expires, 'expires', fail),
    ignoreResult,
    parentId: typeof headers.parent_id === 'string' ? headers.parent_id : null,
    groupId: typeof headers.group === 'string' ? headers.group : null,
  };
}

function decodeBody(body: unknown, bodyEncoding: unknown, compression: unknown, fail: (why: string) => never): unknown {
  if (typeof body !== 'string') fail('the message body is not a string');
  if (bodyEncoding !== undefined && bodyEncoding !== null && bodyEncoding !== 'base64') fail(`body encoding ${JSON.stringify(bodyEncoding)} is not supported (base64 only)`);
  let bytes = bodyEncoding === 'base64' ? Buffer.from(body as string, 'base64') : Buffer.from(body as string, 'utf8');
  if (compression !== undefined && compression !== null) {
    if (compression !== ZLIB_COMPRESSION) fail(`compression ${JSON.stringify(compression)} is not supported: use gzip (zlib) or none`);
    try {
      bytes = zlib.unzipSync(bytes); // zlib as kombu writes it; a gzip header is accepted too
    } catch (err) {
      fail(`the compressed body cannot be inflated (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('the message body is not valid JSON');
  }
}

/** Celery writes ISO 8601 times; one without an offset is UTC (enable_utc, the default). */
function timeOf(value: unknown, header: string, fail: (why: string) => never): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return fail(`headers.${header} is not an ISO 8601 time`);
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`;
  const at = Date.parse(zoned);
  return Number.isNaN(at) ? fail(`headers.${header} ${JSON.stringify(value)} is not an ISO 8601 time`) : at;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
