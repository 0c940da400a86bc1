import { Command } from 'commander';
import { demoCommand } from './commands/demo.ts';
import { dlqCommand } from './commands/dlq.ts';
import { kafkaCommand } from './commands/kafka.ts';
import { simulateCommand } from './commands/simulate.ts';
import { storeCommand } from './commands/store.ts';
import { terminalCommand } from './commands/terminal.ts';

/** The `tillstream` command tree; every command has --help. */
export function program(): Command {
  return new Command('tillstream')
    .description('Tillstream operator CLI: run from the repository root as `npx tillstream <command>`')
    .showHelpAfterError()
    .addCommand(terminalCommand())
    .addCommand(storeCommand())
    .addCommand(dlqCommand())
    .addCommand(kafkaCommand())
    .addCommand(simulateCommand())
    .addCommand(demoCommand());
}
