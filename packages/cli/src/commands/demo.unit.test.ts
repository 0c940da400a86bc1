import { describe, expect, it } from 'vitest';
import { demoCommand } from './demo.ts';

/** The demo command's options as parsed, without running it. */
function options(args: string[]): Record<string, unknown> {
  const command = demoCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .action(() => undefined);
  command.parse(args, { from: 'user' });
  return command.opts();
}

describe('tillstream demo --sweetheart', () => {
  it('plants OP3 on 40 % of their transactions by default, another operator and share on request, and no one with "none"', () => {
    expect(options([]).sweetheart).toEqual({ operatorId: 'OP3', rate: 0.4 });
    expect(options(['--sweetheart', 'OP1=0.15']).sweetheart).toEqual({ operatorId: 'OP1', rate: 0.15 });
    expect(options(['--sweetheart', 'none']).sweetheart).toBe(false);
  });

  it('refuses an operator the tills do not have or a share outside (0, 1]', () => {
    for (const bad of ['OP9=0.2', 'OP3=0', 'OP3=1.5', 'OP3']) expect(() => options(['--sweetheart', bad]), bad).toThrow(/OP1..OP4=<share between 0 and 1>/);
  });
});
