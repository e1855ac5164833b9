// Values made on their first use. What a module builds or loads at its top is paid at every
// command's start, whether or not the command gets there: usearch's addon, fft.js, the providers'
// answer schemas and the genre table cost a `soniquebay scan` ~20 ms before it reads a folder.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `get()` gives `make()`'s value, made on the first call. */
export function lazy<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}

/** A CommonJS library or native addon, required on the first call. */
export function lazyRequire<T>(id: string): () => T {
  return lazy(() => require(id) as T);
}
