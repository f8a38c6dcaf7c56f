/**
 * Runs the CLI from sources (`node --import tsx src/cli/main-entry.ts ...`), the way
 * bin/rootline.js runs the built code; tests spawn this to exercise a real process.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`rootline: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
