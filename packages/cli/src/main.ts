import { program } from './program.ts';

try {
  await program().parseAsync(process.argv);
} catch (err) {
  // One clear line for the operator; the stack helps nobody at a till.
  console.error(`tillstream: ${(err as Error).message}`);
  process.exitCode = 1;
}
