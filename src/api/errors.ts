// One shape for every error: { error, message } with the right status. Validation errors are 400
// with what was wrong; a 500 never carries internals beyond its message.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { JobIdError, PayloadValidationError, TaskNotAvailableError, UnknownTaskError } from '../broker/errors.js';
import { VectorQueryError } from '../services/vectors/queries.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(what: string): ApiError {
  return new ApiError(404, 'not_found', `${what} does not exist`);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'bad_request', message);
}

export async function sendError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (error instanceof ApiError) return void (await reply.code(error.status).send({ error: error.code, message: error.message }));
  if (error instanceof UnknownTaskError) return void (await reply.code(404).send({ error: 'unknown_task', message: error.message }));
  if (error instanceof PayloadValidationError || error instanceof JobIdError) return void (await reply.code(400).send({ error: 'invalid_payload', message: error.message }));
  if (error instanceof TaskNotAvailableError) return void (await reply.code(409).send({ error: 'not_available', message: error.message }));
  if (error instanceof VectorQueryError) {
    const status = error.code === 'unknown_track' ? 404 : error.code === 'no_vector' ? 409 : 503;
    return void (await reply.code(status).send({ error: error.code, message: error.message }));
  }
  const fe = error as FastifyError;
  if (fe.validation) return void (await reply.code(400).send({ error: 'bad_request', message: fe.message }));
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return void (await reply.code(fe.statusCode).send({ error: fe.code ?? 'bad_request', message: fe.message }));
  request.log.error({ err: error }, 'request failed');
  await reply.code(500).send({ error: 'internal', message: error.message });
}
