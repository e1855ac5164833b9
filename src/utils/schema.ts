// The schemas every command builds at start (config, task payloads, extracted tracks, providers'
// answers) use zod's functional build, zod/mini, and only the parts of it listed in zod_subset.ts:
// the method-chaining build cost every start ~12 ms to compile and set up, and all of zod/mini
// (a namespace import) six times what these parts take. Same checks, same engine; its messages are
// zod's English ones, as the default build gives.
import { config } from 'zod/mini';
import { en } from 'zod/v4/locales';

config(en());

export * as z from './zod_subset.js';
