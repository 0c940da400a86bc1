export { program } from './program.ts';
export { demoNames } from './commands/demo.ts';
