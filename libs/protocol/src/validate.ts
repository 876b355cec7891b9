import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';

export type CheckResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<S extends TSchema>(schema: S): TypeCheck<S> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<S>;
}

/**
 * Validates without mutating; at most `maxErrors` messages, each naming the JSON path. A union
 * that matched no branch says only "Expected union value": its `description`, when it has one,
 * says what was expected instead.
 */
export function check<S extends TSchema>(schema: S, value: unknown, maxErrors = 5): CheckResult<Static<S>> {
  const c = checker(schema);
  if (c.Check(value)) return { ok: true, value };
  const errors: string[] = [];
  for (const e of c.Errors(value)) {
    const described = e.type === ValueErrorType.Union && typeof e.schema.description === 'string';
    errors.push(`${e.path || '/'}: ${described ? `expected ${e.schema.description as string}` : e.message}`);
    if (errors.length >= maxErrors) break;
  }
  return { ok: false, errors };
}
