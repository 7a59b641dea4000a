/**
 * Stand-in for Kafka over HTTP, backed by a real redis-server: both the Upstash Kafka REST
 * protocol (`@upstash/kafka`) and the Kafka REST Proxy v2 produce/consume protocol, on one port.
 * Topics are Redis Streams (kafka-streams.ts); see docs/kafka-gateway.md for the mapping and for
 * what differs from a real broker.
 *
 * Which protocol a request speaks is decided by its path:
 *   REST v2  /topics/{topic}…, /consumers/{group}…, /brokers, and `GET /topics` when the Accept
 *            header names an `application/vnd.kafka…` type
 *   Upstash  everything else (/produce, /fetch, /consume, /commit, /committed, /offsets,
 *            /delete-consumer, GET /topics, GET /consumers)
 * Both use HTTP Basic auth with the configured username/password; a failure answers 401 in the
 * protocol's own error shape.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Redis } from "ioredis";
import type { Faults } from "./faults.ts";
import {
  basicAuthorized,
  errorMessage,
  handleAsync,
  type RequestHandler,
  readBody,
  sendJson,
} from "./http.ts";
import { handleRestV2, restV2Error, restV2Unauthorized } from "./kafka-rest-v2.ts";
import {
  ConsumerGroups,
  type GatewayRequest,
  type GatewayResponse,
  TopicStore,
} from "./kafka-streams.ts";
import { handleUpstash, upstashError, upstashUnauthorized } from "./kafka-upstash.ts";

const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Partitions of an auto-created topic (override: env COUPON_KAFKA_PARTITIONS). */
const DEFAULT_PARTITIONS = 3;

export function createKafkaGateway(opts: {
  redisUrl: string;
  username: string;
  password: string;
  faults: Faults;
}): { handle: RequestHandler; close(): Promise<void> } {
  const redis = new Redis(opts.redisUrl, {
    maxRetriesPerRequest: 2,
    connectionName: "kafka-rest-gateway",
  });
  redis.on("error", () => {
    // Reconnects on its own; failing requests report the error to their callers.
  });
  const store = new TopicStore(redis, partitionsFromEnv());
  const groups = new ConsumerGroups(store);
  const ctx = { store, groups, faults: opts.faults };
  let closed = false;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://kafka.local");
    const method = (req.method ?? "GET").toUpperCase();
    const accept = String(req.headers.accept ?? "");
    const rawPath = url.pathname.split("/").filter((s) => s.length > 0);
    const restV2 = speaksRestV2(rawPath, method, accept);

    if (!basicAuthorized(req, opts.username, opts.password)) {
      req.resume();
      send(res, restV2 ? restV2Unauthorized() : upstashUnauthorized());
      return;
    }
    let path: string[];
    try {
      path = rawPath.map((s) => decodeURIComponent(s));
    } catch {
      req.resume();
      const message = "malformed percent-encoding in the request path";
      send(res, restV2 ? restV2Error(400, 400, message) : upstashError(400, message));
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      const message = errorMessage(err);
      send(res, restV2 ? restV2Error(413, 413, message) : upstashError(413, message));
      return;
    }
    const abort = new AbortController();
    res.once("close", () => abort.abort());
    const request: GatewayRequest = {
      method,
      path,
      query: url.searchParams,
      headers: req.headers,
      body,
      host: req.headers.host ?? "127.0.0.1",
      signal: abort.signal,
    };
    const answer = restV2 ? await handleRestV2(ctx, request) : await handleUpstash(ctx, request);
    if (!res.writableEnded && !res.destroyed) send(res, answer, method === "HEAD");
  }

  return {
    handle: handleAsync(serve, (res, err) => send(res, upstashError(500, errorMessage(err)))),
    async close() {
      if (closed) return;
      closed = true;
      await groups.closeAll().catch(() => undefined);
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

function partitionsFromEnv(): number {
  const n = Number(process.env.COUPON_KAFKA_PARTITIONS);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_PARTITIONS;
}

function speaksRestV2(path: string[], method: string, accept: string): boolean {
  const [head] = path;
  if (head === "brokers") return true;
  if (head === "topics") return path.length > 1 || method !== "GET" || /vnd\.kafka/i.test(accept);
  if (head === "consumers") return path.length > 1 || method !== "GET";
  return false;
}

function send(res: ServerResponse, answer: GatewayResponse, headOnly = false): void {
  if (answer.body === undefined) {
    res.writeHead(answer.status, { ...answer.headers });
    res.end();
    return;
  }
  const { status, body, contentType, headers } = answer;
  sendJson(res, status, body, { headOnly, contentType, headers });
}
