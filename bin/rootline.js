#!/usr/bin/env node
// The `rootline` command. Runs the compiled CLI (built by `npm install` through the prepare script).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`rootline: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
