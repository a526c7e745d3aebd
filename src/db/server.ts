/** Where the database is: DATABASE_URL when set, else the embedded server under SUMDA_DATA_DIR. */
import type { Config } from '../config/index.ts';
import type { Logger } from '../log.ts';

export interface DatabaseTarget {
  url: string;
  embedded: boolean;
  release(): Promise<void>;
}

export async function openTarget(config: Config, log: Logger): Promise<DatabaseTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, release: async () => {} };
  const { acquireEmbedded } = await import('./embedded.ts');
  const server = await acquireEmbedded(config.dataDir, log, config.embeddedIdleMs);
  return { url: server.url, embedded: true, release: server.release };
}
