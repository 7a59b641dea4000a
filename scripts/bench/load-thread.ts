/** The load generator's worker thread (scripts/bench-load.ts), one request at a time. */
import { Worker } from "node:worker_threads";
import type { LoadInit, LoadReply, LoadRequest } from "../bench-load.ts";

export class LoadThread {
  private readonly worker: Worker;
  private pending: { resolve(r: LoadReply): void; reject(e: Error): void } | undefined;
  private dead: Error | undefined;

  constructor(init: LoadInit) {
    this.worker = new Worker(new URL("../bench-load.ts", import.meta.url), { workerData: init });
    this.worker.on("message", (r: LoadReply) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(r);
    });
    const fail = (err: Error) => {
      this.dead = err;
      this.pending?.reject(err);
      this.pending = undefined;
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`load thread exited (${code})`)));
  }

  /** Sends one request; rejects after `timeoutMs` (the caller then replaces this thread). */
  call(req: LoadRequest, timeoutMs: number): Promise<LoadReply> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error("load thread busy"));
    return new Promise<LoadReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(
          new Error(`no answer from the load thread within ${Math.round(timeoutMs / 1000)} s`),
        );
      }, timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.worker.postMessage(req);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
