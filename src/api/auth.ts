// Who may change things: on a loopback address every local client may (like the CLI); bound
// elsewhere, GET/HEAD stay open and every other method needs `Authorization: Bearer <token>`.
// Bound elsewhere without a token configured, mutating routes are refused outright.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function requireToken(host: string, token: string | undefined) {
  const open = isLoopback(host) && !token;
  const expected = token ? Buffer.from(token) : null;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (open || request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    if (!expected) {
      await reply.code(403).send({ error: 'forbidden', message: 'this server listens beyond localhost and has no API token: set SONIQUEBAY_API_TOKEN to allow changes' });
      return;
    }
    const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const ok = given !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
    if (!ok) await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid bearer token is required (Authorization: Bearer <token>)' });
  };
}
