// The schemas every command builds at start (config, task payloads, extracted tracks, providers'
// answers) use zod's functional build, zod/mini: ~40 KB bundled, against ~390 KB for the
// method-chaining one, which cost every start ~12 ms to compile and set up. Same checks, same
// engine; its messages are zod's English ones, as the default build gives.
import * as z from 'zod/mini';

z.config(z.locales.en());

export { z };
