/** Scopes of policy versions and targets of overrides: `global`, `tenant:<id>`, `user:<id>`. */
import { UsageError } from '../errors.ts';

const SCOPE = /^(global|(tenant|user):[A-Za-z0-9_-]{1,64})$/;

export function parseScope(text: string | undefined, flag = '--scope'): string {
  const scope = text ?? 'global';
  if (!SCOPE.test(scope)) {
    throw new UsageError(`${flag} ${JSON.stringify(scope)}: use global, tenant:<id> or user:<id>`);
  }
  return scope;
}
