import { describe, expect, it } from 'vitest';
import { cliEnvSchema } from './env.ts';
import { program } from './program.ts';

describe('tillstream --help', () => {
  // The CLI read a dozen variables (the database, the brokers and their credentials, the certificates' folder)
  // that its --help never named; they now come from the schema it parses.
  it('lists every environment variable the CLI reads, from its env schema', () => {
    let out = '';
    const cli = program().configureOutput({ writeOut: (s) => (out += s) });
    cli.outputHelp();
    const listed = out.split('\n').filter((l) => /^ {2}[A-Z][A-Z0-9_]+ /.test(l)).map((l) => l.trim().split(' ')[0]);
    expect(listed).toEqual(Object.keys(cliEnvSchema.shape));
    expect(out).toMatch(/^ {2}CERTS_DIR +.*\(default: "certs"\)$/m);
  });
});
