// Who may change things: on a loopback address every local client may (like the CLI); bound
// elsewhere, GET/HEAD stay open and every other method needs `Authorization: Bearer <token>`.
// Bound elsewhere without a token configured, mutating routes are refused outright.
// The open loopback default also answers only to loopback Host names (a DNS-rebinding page at
// evil.example resolving to 127.0.0.1 sends `Host: evil.example`) and refuses changes sent from a
// page of another site (its `Origin`).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** localhost, an IPv4 loopback literal or [::1], with an optional port: names no other site can take */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}|\[::1\])(?::\d{1,5})?$/i;

function isLoopbackOrigin(origin: string): boolean {
  const match = /^https?:\/\/([^/?#@]+)$/i.exec(origin);
  return match !== null && LOOPBACK_HOST.test(match[1]!);
}

export function requireToken(host: string, token: string | undefined) {
  const open = isLoopback(host) && !token;
  const expected = token ? Buffer.from(token) : null;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (open) return checkLoopbackRequest(request, reply);
    if (SAFE_METHODS.has(request.method)) return;
    if (!expected) {
      await reply.code(403).send({ error: 'forbidden', message: 'this server listens beyond localhost and has no API token: set SONIQUEBAY_API_TOKEN to allow changes' });
      return;
    }
    const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const ok = given !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
    if (!ok) await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid bearer token is required (Authorization: Bearer <token>)' });
  };
}

/** the open loopback API: loopback Host names only, and changes only from loopback pages (or no page) */
async function checkLoopbackRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const hostHeader = request.headers.host ?? '';
  if (!LOOPBACK_HOST.test(hostHeader)) {
    await reply.code(421).send({
      error: 'misdirected_host',
      message: `Host "${hostHeader.slice(0, 200)}" is not a loopback name: without a token this API answers only to localhost, 127.x.x.x or [::1] (a guard against DNS rebinding); to answer to other names, set SONIQUEBAY_API_TOKEN`,
    });
    return;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !SAFE_METHODS.has(request.method) && !isLoopbackOrigin(origin)) {
    await reply.code(403).send({ error: 'cross_origin', message: `changes from a page of another site (Origin "${origin.slice(0, 200)}") are refused: without a token this API takes changes only from localhost pages and local clients` });
  }
}
