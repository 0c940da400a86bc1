import { Command } from 'commander';
import { envHelp } from '@tillstream/config';
import { certsCommand } from './commands/certs.ts';
import { demoCommand } from './commands/demo.ts';
import { dlqCommand } from './commands/dlq.ts';
import { kafkaCommand } from './commands/kafka.ts';
import { migrateCommand } from './commands/migrate.ts';
import { simulateChainCommand } from './commands/simulate-chain.ts';
import { simulateCommand } from './commands/simulate.ts';
import { storeCommand } from './commands/store.ts';
import { terminalCommand } from './commands/terminal.ts';
import { userCommand } from './commands/user.ts';
import { cliEnvSchema } from './env.ts';

/** The `tillstream` command tree; every command has --help. */
export function program(): Command {
  return new Command('tillstream')
    .description('Tillstream operator CLI: run from the repository root as `npx tillstream <command>`')
    .showHelpAfterError()
    .addCommand(migrateCommand())
    .addCommand(terminalCommand())
    .addCommand(storeCommand())
    .addCommand(certsCommand())
    .addCommand(userCommand())
    .addCommand(dlqCommand())
    .addCommand(kafkaCommand())
    .addCommand(simulateCommand())
    .addCommand(simulateChainCommand())
    .addCommand(demoCommand())
    .addHelpText(
      'after',
      `\nEnvironment (each command's flags override it; the local infrastructure's: npm run infra:up -- --help):\n\n${envHelp(cliEnvSchema)}\n`,
    );
}
