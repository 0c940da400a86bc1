/**
 * Readiness checks: each named check answers within its timeout or counts as
 * failed, so /readyz never hangs on a wedged dependency.
 */
export type HealthCheck = () => Promise<void>;

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: CheckResult[];
}

export async function runHealthChecks(
  checks: Record<string, HealthCheck>,
  options: { timeoutMs?: number } = {},
): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<CheckResult> => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { name, ok: true, ms: Math.round(performance.now() - started) };
      } catch (err) {
        return { name, ok: false, ms: Math.round(performance.now() - started), error: (err as Error).message };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ok: results.every((r) => r.ok), checks: results };
}
