/** Every sumda command, registered in one visible place, in the order `sumda --help` lists them. */
import type { Command } from 'commander';
import { registerDb } from './db.ts';

export const COMMANDS: ((program: Command) => void)[] = [registerDb];
