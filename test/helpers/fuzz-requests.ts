// Hostile requests for the API fuzz: for a route of the app, a request built from its OpenAPI
// description (parameters and body schema, when documented) and from what the test knows of the
// live library, then spoiled: wrong types, boundary and absurd numbers, missing and extra fields,
// traversal paths in every encoding, huge and deeply nested bodies, broken JSON, odd content types,
// methods and headers. A share of the requests is left clean (meaningful or valid values only) so
// that answers reach past validation into the handlers. Deterministic for a given PRNG.
import type { RouteInfo } from './fuzz.js';

export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiSpec {
  paths?: Record<string, Record<string, Operation>>;
}

export interface Knowledge {
  /** values that mean something in the live library, by `url#name` (one route) or by `name` */
  values: Record<string, readonly unknown[]>;
  /** folder and file names to try wherever a path may go: inside, outside, traversal, links */
  paths: readonly string[];
  /** the body of POST /tasks/:name: random subsets of these fields */
  taskFields: Record<string, readonly unknown[]>;
  /** the schema of POST /tasks/:name's `payload`, by task name */
  payloadSchemas: Record<string, Schema>;
}

export interface FuzzRequest {
  route: RouteInfo;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** the spoilings applied, for the report */
  kinds: string[];
  /** a Host header no loopback listener should answer (421 expected on the open loopback API) */
  foreignHost: boolean;
  /** an Origin of another site (403 expected for a change on the open loopback API) */
  crossOrigin: boolean;
  /** a body above the 1 MiB limit (413 expected once past auth) */
  huge: boolean;
}

/** Host headers a loopback listener answers to, names it must refuse, and the same for Origins */
const LOOPBACK_HOSTS = ['localhost', 'localhost:80', 'LOCALHOST:8080', '127.0.0.1', '127.0.0.1:5005', '127.1.2.3:1', '[::1]', '[::1]:5005'];
const FOREIGN_HOSTS = ['evil.example', 'evil.example:80', 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost:80@evil.example', '0.0.0.0', '[::]', '192.168.1.2:5005', '10.0.0.1', 'localhost:abc', 'localhost:80:80', '127.0.0.256', ' localhost', 'local host', 'xn--e1afmkfd.example', '[::ffff:127.0.0.1]', '[0:0:0:0:0:0:0:1]', 'a'.repeat(300)];
const LOOPBACK_ORIGINS = ['http://localhost', 'http://localhost:5005', 'https://127.0.0.1:8443', 'http://[::1]:3000', 'http://127.0.0.2'];
const CROSS_ORIGINS = ['https://evil.example', 'http://evil.example:5005', 'null', 'file://', 'http://localhost.evil.example', 'http://127.0.0.1.nip.io', 'http://user@localhost@evil.example', 'chrome-extension://abcdef', 'http://localhost/path', ''];

const ODD_METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'REPORT', 'MOVE', 'COPY', 'PURGE', 'post', 'head'];

/** strings that break naive code: numbers in disguise, nothing, injection, odd Unicode */
const HOSTILE_STRINGS = [
  '', ' ', '0', '-1', '-0', '1e9', '1e309', '9'.repeat(40), '0x1F', '1_000', '+5', ' 7', '7 ', '1.5', 'NaN', 'Infinity', '-Infinity',
  'null', 'undefined', 'true', 'false', '[]', '{}', '[object Object]', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf',
  "'; DROP TABLE tracks; --", '" OR 1=1 --', '%', '%%', '%25', '_', '%_%', '*', '?', '#', '&', '=', '\\', '/', '//', '.', '..', '...', '$(id)', '`id`', '${7*7}', '{{7*7}}', '<script>alert(1)</script>',
  '\u0000', 'a\u0000b', '\r\nX-Injected: 1', '\t', '\u00e9', 'e\u0301', '\u{1F600}', '\uFFFF', '\uFEFF', '\u202Eevil', '\uD800', '\uDC00x', '東京事変', 'Sigur Rós',
  'x'.repeat(101), 'x'.repeat(4097), 'ab'.repeat(20_000),
];

/** numbers where an integer is expected: pagination and ids taken to their limits and beyond */
const HOSTILE_NUMBERS = [0, -1, -0.5, 1.5, 1e9, -1e9, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, Number.MAX_VALUE, Number.MIN_VALUE, 1e-9];
const HOSTILE_NUMBER_TEXT = ['1e9', '1e3', '-1', '0', '1.5', '0x10', '0b11', '010', '+1', '1,2', '1 2', 'NaN', 'Infinity', '', 'abc', '9'.repeat(30), '-9'.repeat(15), '1e-7', '٣', '１'];

const WRONG_TYPES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, 'text', '', [], [1, 2], ['a'], {}, { a: 1 }, [[[]]], { length: 1e9 }];

const INVALID_JSON = ['{', '}', '{"root":', '{"a":1,}', "{'root':'x'}", '{"root": undefined}', '{"a":NaN}', 'nul', 'tru', '[1,2', '{"a":1}{"b":2}', '{"a":1} garbage', '\uFEFF{}', '{"a":"\\x41"}', '{"a":"\ud800"}', '\u0000', '{"a":01}', '{"a":1e99999}', '"\\', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', ' ', '\n\n'];

const CONTENT_TYPES = [
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'application/octet-stream',
  'application/json; charset=utf-16', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/json ; foo=bar', 'application/json;', 'application/vnd.api+json',
  'application/json, text/plain', 'application/jsonp', 'json', ';;;', '*/*', 'application/', 'x'.repeat(2000),
];

const ODD_HEADERS: [string, () => string][] = [
  ['accept', () => 'application/xml'],
  ['accept', () => 'text/event-stream'],
  ['accept', () => 'x'.repeat(8000)],
  ['accept-encoding', () => 'gzip, deflate, br'],
  ['accept-encoding', () => 'identity;q=0, *;q=0'],
  ['content-encoding', () => 'gzip'],
  ['if-none-match', () => '*'],
  ['if-modified-since', () => 'yesterday'],
  ['range', () => 'bytes=0-10'],
  ['range', () => 'bytes=999999999999-'],
  ['last-event-id', () => '-1'],
  ['last-event-id', () => '99999999999999999999999'],
  ['last-event-id', () => '1e9'],
  ['last-event-id', () => '1'],
  ['x-forwarded-for', () => '1.2.3.4'],
  ['x-forwarded-host', () => 'evil.example'],
  ['x-forwarded-proto', () => 'gopher'],
  ['forwarded', () => 'for=1.2.3.4;host=evil.example'],
  ['x-http-method-override', () => 'DELETE'],
  ['cookie', () => 'session=abc; token=def'],
  ['expect', () => '100-continue'],
  ['connection', () => 'upgrade'],
  ['upgrade', () => 'websocket'],
  ['user-agent', () => '\u00ff'.repeat(500)],
];

export class RequestFuzzer {
  /** the request being built: clean, and the values of its path parameters */
  private clean = false;
  private params = new Map<string, string>();

  constructor(
    private readonly rand: () => number,
    private readonly spec: OpenApiSpec,
    private readonly knowledge: Knowledge,
  ) {}

  private chance(p: number): boolean {
    return this.rand() < p;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)]!;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.rand() * (max - min + 1));
  }

  /** a request aimed at one route; `headers` are added as given (auth attempts) */
  request(route: RouteInfo, extraHeaders: Record<string, string> = {}): FuzzRequest {
    const kinds: string[] = [];
    this.clean = this.chance(0.3);
    this.params.clear();
    const operation = this.operationOf(route);
    const url = this.urlFor(route, operation, kinds);
    const headers: Record<string, string> = { ...extraHeaders };
    let method = route.method;
    if (!this.clean && this.chance(0.03)) {
      method = this.pick(ODD_METHODS);
      kinds.push(`method ${method}`);
    }
    let foreignHost = false;
    let crossOrigin = false;
    if (this.chance(0.05)) {
      foreignHost = this.chance(0.6);
      headers.host = this.pick(foreignHost ? FOREIGN_HOSTS : LOOPBACK_HOSTS);
      kinds.push(`host ${headers.host.slice(0, 40)}`);
    }
    if (this.chance(0.06)) {
      crossOrigin = this.chance(0.6);
      headers.origin = this.pick(crossOrigin ? CROSS_ORIGINS : LOOPBACK_ORIGINS);
      kinds.push(`origin ${headers.origin}`);
    }
    if (this.chance(0.12)) {
      for (let n = this.int(1, 3); n > 0; n--) {
        const [name, value] = this.pick(ODD_HEADERS);
        headers[name] = value();
        kinds.push(`header ${name}`);
      }
    }
    const body = method === 'GET' || method === 'HEAD' ? (this.chance(0.02) ? this.body(route, operation, kinds) : null) : this.chance(0.95) ? this.body(route, operation, kinds) : null;
    if (body) {
      if (body.contentType !== null) headers['content-type'] = body.contentType;
      if (body.lengthLie) headers['content-length'] = String(body.lengthLie);
    }
    return { route, method, url, headers, ...(body ? { payload: body.payload } : {}), kinds, foreignHost, crossOrigin, huge: body?.huge ?? false };
  }

  private operationOf(route: RouteInfo): Operation | undefined {
    const openApiUrl = route.url.replace(/:(\w+)/g, '{$1}');
    const method = route.method === 'HEAD' ? 'get' : route.method.toLowerCase();
    return this.spec.paths?.[openApiUrl]?.[method];
  }

  /** a value the live library gives meaning to, for this route's `name` */
  private known(route: RouteInfo, name: string): readonly unknown[] | undefined {
    return this.knowledge.values[`${route.url}#${name}`] ?? this.knowledge.values[name];
  }

  private urlFor(route: RouteInfo, operation: Operation | undefined, kinds: string[]): string {
    const params = new Map((operation?.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, p.schema]));
    const path = route.url.replace(/:(\w+)|\*/g, (_match, name: string | undefined) => {
      const key = name ?? '*';
      const value = this.scalar(route, key, params.get(key), kinds);
      this.params.set(key, value);
      return this.clean ? percentEncode(value) : this.encodeSegment(value, kinds);
    });
    const query = this.query(route, operation, kinds);
    return query ? `${path}?${query}` : path;
  }

  /** a value for a parameter: meaningful, valid by its schema, at or past its limits, or hostile */
  private scalar(route: RouteInfo, name: string, schema: Schema | undefined, kinds: string[]): string {
    const known = this.known(route, name);
    const roll = this.rand();
    if (this.clean) return String(known && (roll < 0.7 || !schema) ? this.pick(known) : schema ? this.valid(schema) : this.pick(this.knowledge.paths));
    if (roll < 0.4 && known) return String(this.pick(known));
    if (roll < 0.6 && schema) return String(this.valid(schema));
    if (roll < 0.75 && schema && (schema.type === 'integer' || schema.type === 'number')) {
      kinds.push(`${name}: absurd number`);
      return this.chance(0.5) ? String(this.pick(HOSTILE_NUMBERS)) : this.pick(HOSTILE_NUMBER_TEXT);
    }
    if (roll < 0.85) {
      kinds.push(`${name}: path`);
      return this.pick(this.knowledge.paths);
    }
    kinds.push(`${name}: hostile string`);
    return this.hostileString();
  }

  private valid(schema: Schema): unknown {
    if (schema.enum) return this.pick(schema.enum);
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (type) {
      case 'integer':
      case 'number': {
        const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
        const max = Math.min(schema.maximum ?? min + 1000, min + 1000);
        const edge = this.pick([min, schema.maximum ?? max, this.int(min, max)]);
        return type === 'number' && this.chance(0.3) ? edge + 0.5 : edge;
      }
      case 'boolean':
        return this.pick([true, false, 'true', 'false', 1, 0]);
      case 'array':
        return Array.from({ length: this.int(schema.minItems ?? 0, 3) }, () => (schema.items ? this.valid(schema.items) : this.hostileString()));
      case 'object':
        return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, field]) => [name, this.valid(field)]));
      case 'string':
        return this.chance(0.5) ? this.pick(this.knowledge.paths) : this.hostileString().slice(0, schema.maxLength ?? 100);
      default:
        return this.pick(WRONG_TYPES);
    }
  }

  private hostileString(): string {
    if (this.chance(0.7)) return this.pick(HOSTILE_STRINGS);
    // random code points, surrogates and controls included
    return Array.from({ length: this.int(1, 40) }, () => String.fromCharCode(this.chance(0.3) ? this.int(0, 0x7f) : this.int(0, 0xffff))).join('');
  }

  /** path segments and query values: encoded as a client should, left raw, encoded twice, or half-encoded */
  private encodeSegment(value: string, kinds: string[]): string {
    const roll = this.rand();
    if (roll < 0.55) return percentEncode(value);
    if (roll < 0.7) {
      kinds.push('raw');
      return value.replace(/[^\x21-\x7e]/g, (c) => percentEncode(c));
    }
    if (roll < 0.85) {
      kinds.push('double-encoded');
      return percentEncode(percentEncode(value));
    }
    kinds.push('half-encoded');
    return value.replace(/\./g, '%2e').replace(/\//g, this.chance(0.5) ? '%2f' : '%2F').replace(/\\/g, '%5c').replace(/[^\x21-\x7e]/g, (c) => percentEncode(c));
  }

  private query(route: RouteInfo, operation: Operation | undefined, kinds: string[]): string {
    const declared = (operation?.parameters ?? []).filter((p) => p.in === 'query');
    const pairs: [string, string][] = [];
    for (const p of declared) if (this.chance(p.required ? 0.9 : 0.5)) pairs.push([p.name, this.scalar(route, p.name, p.schema, kinds)]);
    if (this.clean) return pairs.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&');
    if (declared.length === 0 && this.chance(0.2)) pairs.push([this.pick(['limit', 'offset', 'id', 'q', 'root']), this.hostileString()]);
    if (this.chance(0.1)) {
      pairs.push([this.pick(['extra', '__proto__', 'constructor', 'limit[]', 'a[b]', '', 'x'.repeat(500)]), this.hostileString()]);
      kinds.push('unknown query field');
    }
    if (pairs.length > 0 && this.chance(0.08)) {
      pairs.push([this.pick(pairs)[0], this.hostileString()]);
      kinds.push('repeated query field');
    }
    if (this.chance(0.02)) {
      pairs.push([declared.length > 0 ? this.pick(declared).name : 'q', 'x'.repeat(this.int(10_000, 200_000))]);
      kinds.push('huge query');
    }
    return pairs.map(([k, v]) => `${percentEncode(k)}=${this.encodeSegment(v, kinds)}`).join(this.chance(0.97) ? '&' : this.pick(['&&', ';', '&=&']));
  }

  private body(route: RouteInfo, operation: Operation | undefined, kinds: string[]): { payload: string; contentType: string | null; lengthLie?: number; huge: boolean } {
    const schema = operation?.requestBody?.content?.['application/json']?.schema;
    const json = (value: unknown) => ({ payload: JSON.stringify(value) ?? 'null', contentType: 'application/json', huge: false });
    if (this.clean) return json(schema ? this.object(route, schema, kinds) : {});
    const roll = this.rand();
    if (roll < 0.55) return json(schema ? this.object(route, schema, kinds) : this.pick(WRONG_TYPES));
    if (roll < 0.65) {
      kinds.push('body of a wrong type');
      return json(this.pick(WRONG_TYPES));
    }
    if (roll < 0.72) {
      kinds.push('invalid JSON');
      return { payload: this.pick(INVALID_JSON), contentType: 'application/json', huge: false };
    }
    if (roll < 0.77) {
      const depth = this.pick([64, 1_000, 10_000, 100_000]);
      kinds.push(`JSON nested ${depth} deep`);
      const [open, close] = this.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
      const inner = `${open.repeat(depth)}1${close.repeat(depth)}`;
      return { payload: this.chance(0.5) ? `{"payload":${inner}}` : inner, contentType: 'application/json', huge: false };
    }
    if (roll < 0.81) {
      const mb = this.int(2, 6);
      kinds.push(`${mb} MB body`);
      const filler = this.chance(0.5) ? `"${'x'.repeat(mb * 1_048_576)}"` : `[${'1,'.repeat(mb * 524_288)}1]`;
      return { payload: `{"payload":${filler}}`, contentType: this.chance(0.8) ? 'application/json' : this.pick(CONTENT_TYPES), huge: true };
    }
    if (roll < 0.83) {
      kinds.push('body just under the limit');
      return json({ ids: Array.from({ length: 100_000 }, (_, i) => String(i)), payload: { trackIds: Array.from({ length: 50_000 }, (_, i) => i + 1) } });
    }
    if (roll < 0.9) {
      const contentType = this.pick(CONTENT_TYPES);
      kinds.push(`content-type ${contentType.slice(0, 40)}`);
      const value = schema ? this.object(route, schema, kinds) : {};
      return { payload: contentType.includes('form') ? `root=${encodeURIComponent(String(this.pick(this.knowledge.paths)))}` : JSON.stringify(value), contentType, huge: false };
    }
    if (roll < 0.95) {
      kinds.push('empty body');
      return { payload: '', contentType: this.chance(0.7) ? 'application/json' : null, huge: false };
    }
    kinds.push('content-length lie');
    const payload = JSON.stringify(schema ? this.object(route, schema, kinds) : {});
    return { payload, contentType: 'application/json', lengthLie: this.chance(0.5) ? Math.max(1, payload.length - 3) : payload.length + this.int(1, 10_000_000), huge: false };
  }

  /** an object after a body schema: fields left out, of wrong types, extra fields */
  private object(route: RouteInfo, schema: Schema, kinds: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(schema.properties ?? {})) {
      const required = schema.required?.includes(name) ?? false;
      if (!this.chance(required ? (this.clean ? 1 : 0.92) : 0.5)) {
        if (required) kinds.push(`${name} missing`);
        continue;
      }
      out[name] = this.field(route, name, field, kinds);
    }
    if (!this.clean && this.chance(0.1)) {
      out[this.pick(['extra', 'constructor', 'prototype', 'toString', 'x'.repeat(300), ''])] = this.pick(WRONG_TYPES);
      kinds.push('extra field');
    }
    return out;
  }

  private field(route: RouteInfo, name: string, schema: Schema, kinds: string[]): unknown {
    const known = this.known(route, name);
    const roll = this.rand();
    if (name === 'payload') {
      const task = this.knowledge.payloadSchemas[this.params.get('name') ?? ''];
      return task && (this.clean || roll < 0.5) ? this.object(route, task, kinds) : this.taskPayload(kinds);
    }
    if (this.clean) return known && roll < 0.7 ? this.pick(known) : this.valid(schema);
    if (roll < 0.45 && known) return this.pick(known);
    if (roll < 0.7) return this.valid(schema);
    if (roll < 0.9) {
      kinds.push(`${name}: wrong type`);
      return this.pick(WRONG_TYPES);
    }
    kinds.push(`${name}: hostile`);
    return this.chance(0.5) ? this.hostileString() : Array.from({ length: this.pick([1_001, 10_001]) }, (_, i) => i);
  }

  /** the payload of a task: a few of the fields tasks take, meaningful or spoiled */
  private taskPayload(kinds: string[]): unknown {
    const names = Object.keys(this.knowledge.taskFields);
    const out: Record<string, unknown> = {};
    for (let n = this.int(0, 3); n > 0; n--) {
      const name = this.pick(names);
      out[name] = this.chance(0.8) ? this.pick(this.knowledge.taskFields[name]!) : this.pick(WRONG_TYPES);
    }
    if (this.chance(0.05)) {
      kinds.push('payload not an object');
      return this.pick(WRONG_TYPES);
    }
    return out;
  }
}

/** encodeURIComponent, and lone surrogates (which it refuses) as the bytes of invalid UTF-8 */
function percentEncode(value: string): string {
  return value.replace(/[\s\S]/gu, (c) => {
    const code = c.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`;
    return encodeURIComponent(c);
  });
}
