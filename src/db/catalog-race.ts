/**
 * Grants, roles and their memberships live in catalog rows that concurrent sessions update in
 * place: two sessions granting on the same object at once (two `db migrate` runs setting up the job
 * queues' grants), or two databases of one cluster changing the shared role catalogs, can collide —
 * "tuple concurrently updated/deleted" (XX000). The statement did nothing (its transaction rolled
 * back), and what it does is idempotent, so it runs again: up to three times in all. Any other
 * error is the caller's own.
 */
export async function retryCatalogRace<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= 3 || !isCatalogRace(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt));
    }
  }
}

/** The collision itself, or an error wrapping it as its `cause` (a migration step names itself so). */
export function isCatalogRace(error: unknown): boolean {
  for (
    let e = error as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 3;
    depth++
  ) {
    if (e.code === 'XX000' && /tuple concurrently (updated|deleted)/.test(e.message ?? '')) return true;
    e = e.cause as typeof e;
  }
  return false;
}
