// Stored images by content hash: /images/<hash>/<size>.<webp|jpg>. Content-addressed, so they are
// cached for a year and never change; the hash and the name are checked against fixed patterns
// before any file is opened.
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import type { ApiContext } from '../server.js';
import { errorResponses, nonJson } from './schemas.js';

export function imageRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const store = runtime.services.images;
  app.get<{ Params: { hash: string; name: string } }>(
    '/images/:hash/:name',
    {
      schema: {
        tags: ['library'],
        summary: 'a stored image rendition (cached for a year: the URL changes with the content)',
        params: { type: 'object', properties: { hash: { type: 'string', pattern: '^[a-f0-9]{16,128}$' }, name: { type: 'string', pattern: '^[0-9]{1,5}\\.(webp|jpg)$' } } },
        response: { 200: nonJson('the image (WebP for .webp, JPEG for .jpg)', ['image/webp', 'image/jpeg'], 'binary'), 304: { description: 'not modified (If-None-Match matched the ETag)', type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { hash, name } = request.params;
      const [sizeText, ext] = name.split('.') as [string, 'webp' | 'jpg'];
      const etag = `"${hash}-${name}"`;
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      // checked against the size and hash recorded at write; a damaged or deleted one is rendered again
      const bytes = await store.rendition(hash, Number(sizeText), ext === 'jpg' ? 'jpeg' : 'webp');
      if (!bytes) throw notFound(`image ${hash}/${name}`);
      return reply
        .header('content-type', ext === 'jpg' ? 'image/jpeg' : 'image/webp')
        .header('content-length', bytes.length)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('etag', etag)
        .send(bytes);
    },
  );
}
