#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50 --no-turbo-inlining
// Runs the compiled CLI (npm ci builds it through the `prepare` script).
// --max-semi-space-size=2: V8 otherwise grows its young generation to 3 x 16 MB under the scan's
// allocation rate and collects lazily; 2 MB keeps a long scan's RSS flat (docs/reliability.md).
// --heap-growing-percent=50: the old generation is collected when it reaches 1.5x what survived
// the last collection; V8's own factor let ~45 MB of live heap grow to 160 MB between collections
// of a 100,000-file scan (RSS swinging by 100 MB). Measured: peak RSS 371 -> 225 MB.
// --no-turbo-inlining: V8's optimising compiler then compiles each hot function alone instead of
// with its callees inlined. Compiling was a third of all the instructions of a 10k first scan
// (callgrind: 12.3 of 37.8 G, on background threads that share the two cores with the walk, the
// parse thread and the writer); without inlining 32.7 G in all, the compiled code itself a little
// slower (docs/benchmarks.md, fourteenth session).
// MALLOC_ARENA_MAX=2: glibc gives every thread that allocates (parse thread, libuv pool, libvips)
// an arena of its own, kept resident; two arenas: peak RSS of a 10k first scan 164 -> 156 MB.
// Started as `node bin/soniquebay.js`, pass the flags yourself (Dockerfile, systemd unit do).
import '../dist/cli.js';
