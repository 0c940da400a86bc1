/**
 * A one-line progress display on stderr for long work (benchmarks, the
 * terminal simulator): a bar when the total is known, counts and a rate
 * either way, and extra text from the caller. Only drawn on a terminal, so
 * CI logs and redirected output stay clean.
 */
export function progressBar(label: string, total?: number, stream: NodeJS.WriteStream = process.stderr) {
  const tty = stream.isTTY;
  const started = performance.now();
  let last = 0;
  let drawn = false;
  return {
    tick(done: number, extra = '') {
      if (!tty) return;
      const now = performance.now();
      if (now - last < 100 && (total === undefined || done < total)) return;
      last = now;
      drawn = true;
      const rate = done / Math.max(0.001, (now - started) / 1000);
      const width = 30;
      const bar = total === undefined ? '' : ` [${'#'.repeat(Math.round((Math.min(done, total) / total) * width)).padEnd(width, '.')}] ${done}/${total}`;
      const line = `${label}${bar}${total === undefined ? ` ${done}` : ''} ${rate.toFixed(0)}/s${extra ? ` ${extra}` : ''}`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 200) - 1).padEnd(Math.min(line.length + 3, (stream.columns ?? 200) - 1))}`);
    },
    done() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
