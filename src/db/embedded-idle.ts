/**
 * The embedded server's idle stop, run detached by the last sumda command that used the server
 * (`node src/db/embedded-idle.ts <data dir> <idle ms>`): see idleStopLoop in embedded.ts.
 */
import { idleStopLoop } from './embedded.ts';

const [dataDir, idle] = process.argv.slice(2);
if (dataDir && Number(idle) > 0) await idleStopLoop(dataDir, Number(idle));
