import { z } from 'zod';
import { TillstreamError } from '@tillstream/contracts';

/** Thrown at boot when the environment is not usable; lists every problem at once. */
export class EnvError extends TillstreamError {
  constructor(readonly issues: string[]) {
    super('ENV_INVALID', `invalid environment:\n  ${issues.join('\n  ')}`);
    this.name = 'EnvError';
  }
}

/**
 * Parses `env` with `schema`, or throws an {@link EnvError} naming each bad
 * variable. Services call this once in their env.ts and fail at boot, not at
 * the first request.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new EnvError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
}

/** "a,b , c" -> ["a","b","c"] */
export const csv = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1));

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Text for a service's --help: every variable of its env schema with its
 * description and default, from the schema itself, so help and parsing never
 * disagree.
 */
export function envHelp(schema: z.ZodObject): string {
  const lines = Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const def = (f as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
    const fallback = def.type === 'default' ? `default: ${JSON.stringify(def.defaultValue)}` : def.type === 'optional' ? 'optional' : 'required';
    return `  ${name.padEnd(30)} ${f.description ?? ''} (${fallback})`;
  });
  return lines.join('\n');
}
