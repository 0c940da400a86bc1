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
/** An IANA time zone name ("Europe/London"), as Intl knows it: a store's business days follow it. */
export const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Europe/London' },
);
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** How a variable falls back when unset, from the zod definition itself. */
function fallbackOf(field: z.ZodType): { required: boolean; text: string } {
  const def = (field as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
  if (def.type === 'default') return { required: false, text: `default: ${JSON.stringify(def.defaultValue)}` };
  if (def.type === 'optional') return { required: false, text: 'optional' };
  return { required: true, text: 'required' };
}

interface InputConstraints {
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  format?: string;
}

/**
 * The rules a value must meet that a reader cannot guess from the
 * description ("one of: ...", "at least 24 characters", "6000..300000"), read
 * from the schema's JSON Schema so the help names exactly what parsing checks.
 */
function constraintsOf(field: z.ZodType): string[] {
  let json: InputConstraints;
  try {
    json = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as InputConstraints;
  } catch {
    return [];
  }
  // .int() bounds a number by the safe-integer range: no news to anyone.
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  const rules: string[] = [];
  if (json.enum) rules.push(`one of: ${json.enum.join(', ')}`);
  if (json.minLength !== undefined && json.minLength > 1) rules.push(`at least ${json.minLength} characters`);
  if (json.maxLength !== undefined) rules.push(`at most ${json.maxLength} characters`);
  if (json.minimum !== undefined && json.maximum !== undefined) rules.push(`${json.minimum}..${json.maximum}`);
  else if (json.minimum !== undefined && json.minimum !== 0) rules.push(`at least ${json.minimum}`);
  else if (json.maximum !== undefined) rules.push(`at most ${json.maximum}`);
  if (json.format === 'uri') rules.push('a URL');
  return rules;
}

/**
 * Text for a service's --help: every variable of its env schema with its
 * description, the rules its value must meet, and its default, from the
 * schema itself, so help and parsing never disagree.
 */
export function envHelp(schema: z.ZodObject): string {
  const lines = Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const rules = constraintsOf(f);
    const text = [f.description ?? '', rules.length ? `[${rules.join('; ')}]` : ''].filter(Boolean).join(' ');
    return `  ${name.padEnd(30)} ${text} (${fallbackOf(f).text})`;
  });
  return lines.join('\n');
}

/** The variables of `schema` a process cannot start without (no default, not optional). */
export function requiredEnv(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => fallbackOf(field as z.ZodType).required)
    .map(([name]) => name);
}

/** The usage line of a service's --help: the variables it requires, by name, from its schema. */
export function envUsage(schema: z.ZodObject, workspace: string): string {
  const required = requiredEnv(schema).map((name) => `${name}=<value> `);
  return `Usage: ${required.join('')}[VAR=value ...] npm start -w ${workspace}`;
}
