import { buildApp } from "./app.ts";
import { evaluateAlerts } from "./lib/alerts-run.ts";
import { edgeServicesFor } from "./services.ts";

const app = buildApp();

export default {
  fetch: app.fetch,
  /** The Cron Trigger (`[triggers]` in wrangler.toml): the alert rules, every minute. */
  scheduled(controller, env, ctx) {
    ctx.waitUntil(
      evaluateAlerts(edgeServicesFor(env), controller.scheduledTime).catch((err: unknown) => {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "alert evaluation failed",
            error: err instanceof Error ? err.name : "error",
          }),
        );
      }),
    );
  },
} satisfies ExportedHandler<Env>;
