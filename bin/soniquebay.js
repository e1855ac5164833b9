#!/usr/bin/env -S node --max-semi-space-size=2
// Runs the compiled CLI (npm ci builds it through the `prepare` script).
// --max-semi-space-size=2: V8 otherwise grows its young generation to 3 x 16 MB under the scan's
// allocation rate and collects lazily; 2 MB keeps a long scan's RSS flat (docs/reliability.md).
// Started as `node bin/soniquebay.js`, pass the flag yourself (Dockerfile, systemd unit do).
import '../dist/cli.js';
