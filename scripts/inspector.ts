/** workerd's V8 inspector (Chrome DevTools protocol), for the profile and the soak. */

export interface InspectorSession {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

const SEND_TIMEOUT_MS = 30_000;

/** One Chrome DevTools protocol session over the inspector's WebSocket. */
export async function session(url: string): Promise<InspectorSession> {
  const ws = new WebSocket(url);
  await new Promise((done, fail) => {
    ws.addEventListener("open", done, { once: true });
    ws.addEventListener("error", fail, { once: true });
  });
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (msg.id === undefined) return;
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  });
  // An isolate that never answers (gone, or stuck) fails the call instead of hanging the script.
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((done, fail) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        fail(new Error(`inspector: no answer to ${method} in ${SEND_TIMEOUT_MS} ms (${url})`));
      }, SEND_TIMEOUT_MS);
      waiting.set(id, (result) => {
        clearTimeout(timer);
        done(result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/**
 * A session per isolate of each process: `startWorker({ inspectorPort })` puts the first front's
 * inspector on that port and, when the layout is split (fronts > 0), the objects' on the next.
 */
export async function isolateSessions(
  inspectorPort: number,
  fronts: number,
): Promise<{ title: string; process: string; s: InspectorSession }[]> {
  const inspectors =
    fronts === 0
      ? [{ process: "workerd", port: inspectorPort }]
      : [
          { process: "front", port: inspectorPort },
          { process: "objects", port: inspectorPort + 1 },
        ];
  const found = await Promise.all(
    inspectors.map(async ({ process, port }) => {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
        id: string;
        title: string;
        webSocketDebuggerUrl: string;
      }[];
      return Promise.all(
        targets.map(async (t) => ({
          title: `${process}-${t.title || t.id}`,
          process,
          s: await session(t.webSocketDebuggerUrl),
        })),
      );
    }),
  );
  return found.flat();
}
