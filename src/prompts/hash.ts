/** The content hash of a prompt: what ran is named by it, built-in and registered prompts alike. */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../policy/merge.ts';

export function promptHash(model: string, template: string, params: unknown): string {
  return createHash('sha256')
    .update(`${model}\n${template}\n${canonicalJson(params)}`)
    .digest('hex');
}
