/** Shorthands for declaring metric families on one registry. */
import { Counter, type Registry } from 'prom-client';

/** A counter factory bound to a registry: `counter(name, help, labelNames)`. */
export function counterIn(registry: Registry) {
  return <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
}
