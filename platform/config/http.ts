import { z } from "zod";
import { section, withDefault } from "./fields.ts";

/** How the HTTP surface behaves towards browsers and the logs. */
export const http = section({
  settings: {
    /** Comma-separated origins allowed by CORS; `*` (the default) suits bearer-token clients. */
    CORS_ORIGINS: withDefault(z.string().default("*")),
    /**
     * `on` (the default): every error one JSON line, 2xx and 409 answers one line per second per
     * route, status and event (a crowd's claims would otherwise be a line each); `all`: one line
     * per request; `off`: none.
     */
    REQUEST_LOG: withDefault(
      z.enum(["on", "all", "off"], { error: "must be on, all or off" }).default("on"),
    ),
  },
  read: (s) => ({ corsOrigins: s.CORS_ORIGINS, requestLog: s.REQUEST_LOG }),
});
