/**
 * A local redis-server for `hotcold demo --cold-store redis`: started on a free loopback port
 * with persistence off, in its own directory, stopped by pid. And a reachability check of a
 * redis address, so a demo names the address it cannot reach before training anything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from './errors.js';

export interface LocalRedis {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** Is `redis-server` on PATH? */
export function redisServerOnPath(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

/** Can a TCP connection be opened to host:port within `ms`? */
export async function reachable(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((res) => {
    const c = createConnection({ host, port });
    const done = (ok: boolean): void => {
      c.destroy();
      res(ok);
    };
    c.setTimeout(ms, () => done(false));
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

/** Start redis-server on a free loopback port (persistence off); resolves once it answers. */
export async function startLocalRedis(): Promise<LocalRedis> {
  if (!redisServerOnPath()) {
    throw new PipelineError('bad_config', 'redis-server is not on PATH', { field: '--cold-store', hint: 'apt-get install -y redis-server, or pass --cold-store redis://host:port of a running server' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-redis-'));
  const port = await freePort();
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const kill = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  };
  process.once('exit', kill);
  const t0 = Date.now();
  while (!(await reachable('127.0.0.1', port, 500))) {
    if (proc.exitCode !== null || Date.now() - t0 > 10_000) {
      kill();
      rmSync(dir, { recursive: true, force: true });
      throw new PipelineError('internal', `redis-server on 127.0.0.1:${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    address: `redis://127.0.0.1:${port}`, pid: proc.pid!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        kill();
        await gone;
      }
      process.removeListener('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
