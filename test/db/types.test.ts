import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { generateDatabaseTypes } from '../../src/db/codegen.ts';
import { useTestDatabase } from '../support/db.ts';

const TYPES_FILE = fileURLToPath(new URL('../../src/db/types.ts', import.meta.url));
const database = useTestDatabase();

it('src/db/types.ts matches the migrated catalog (run `npm run db:types` after a migration)', async () => {
  const generated = await generateDatabaseTypes(database.db);
  if (process.env.UPDATE_DB_TYPES) await writeFile(TYPES_FILE, generated);
  expect(await readFile(TYPES_FILE, 'utf8')).toBe(generated);
});
