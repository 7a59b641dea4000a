/**
 * Requests to the local gateway's control port, with the run's token. Plain `fetch`, so the
 * Worker tests (inside workerd) and the Node scripts and tests share it.
 */
import type { LocalCloud } from "../stack-types.ts";

export type GatewayControl = LocalCloud["gatewayControl"];

/** `fetch` of `path` on the control port, authorized with `control.token`. */
export function controlFetch(
  control: GatewayControl,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${control.token}`);
  return fetch(`${control.url}${path}`, { ...init, headers });
}
