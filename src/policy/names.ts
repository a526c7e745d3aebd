/**
 * The five AI policies by name (glossary in ./schemas.ts). Apart from the schemas so that what only
 * needs the names (listing, argument checks) does not load the schema library.
 */
export const POLICY_NAMES = ['ethics', 'slip', 'tone', 'mode', 'analysis'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}
