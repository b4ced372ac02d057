/** Starts a helper process of the local stack and waits for the JSON line it prints when ready. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildService<T> {
  readonly name: string;
  readonly ready: T;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function startChild<T>(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<ChildService<T>> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during start (code ${code})`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      lines.on('line', (l) => process.stdout.write(`[${name}] ${l}\n`));
      let ready: T;
      try {
        ready = JSON.parse(line) as T;
      } catch {
        reject(new Error(`${name} printed ${line.slice(0, 200)} instead of its ready line`));
        return;
      }
      resolve({
        name,
        ready,
        process: child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
