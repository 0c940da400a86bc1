import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@tillstream/observability';
import { InfraError } from './errors.ts';
import { execFileAsync, which } from './process.ts';

const POM = fileURLToPath(new URL('../pom.xml', import.meta.url));

/** Where the jars of one Kafka version live once resolved. */
export function jarsDir(cacheDir: string, version: string): string {
  return join(cacheDir, `kafka-${version}`);
}

/**
 * Resolves the Kafka broker jars of `version` from Maven Central with `mvn`
 * (the committed pom) into the cache directory, once. A marker file is
 * written last, so an interrupted download is redone rather than half used.
 */
export async function resolveKafkaJars(options: { version: string; cacheDir: string; logger: Logger }): Promise<string> {
  const dir = jarsDir(options.cacheDir, options.version);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return dir;
  if (!(await which('java'))) {
    throw new InfraError('JAVA_MISSING', 'java is not on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)');
  }
  if (!(await which('mvn'))) {
    throw new InfraError('MAVEN_MISSING', 'mvn is not on PATH: install Maven (Debian: apt-get install maven) to fetch the Kafka jars');
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(options.cacheDir, { recursive: true });
  const profile = Number(options.version.split('.')[0]) >= 4 ? 'kafka4' : 'kafka3';
  options.logger.info({ version: options.version, dir }, 'resolving Kafka jars from Maven Central (first run only)');
  try {
    await execFileAsync(
      'mvn',
      ['-q', '-B', '-f', POM, `-P${profile}`, `-Dkafka.version=${options.version}`, `-DoutputDirectory=${tmp}`,
        '-DincludeScope=runtime', 'dependency:copy-dependencies'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    const line = out.split('\n').find((l) => l.includes('[ERROR]')) ?? (err as Error).message;
    throw new InfraError('KAFKA_JARS_UNRESOLVED', `mvn could not resolve Kafka ${options.version}: ${line.trim()}`, { cause: err });
  }
  await writeFile(join(tmp, '.complete'), new Date().toISOString());
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}
