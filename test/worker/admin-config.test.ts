import { describe, expect, it } from "vitest";
import type { DeployReport } from "../../platform/deploy-checks.ts";
import { ADMIN_TOKEN, admin, api, asUser, JWT_SECRET } from "./helpers.ts";

describe("GET /v1/admin/config", () => {
  it("names each check and setting with its state, never a value", async () => {
    const res = await api("/v1/admin/config", { headers: admin() });
    expect(res.status).toBe(200);
    const text = await res.text();
    const report = JSON.parse(text) as DeployReport;
    // The tests run undeployed, with the tests' own published secrets.
    expect(report.environment).toBeNull();
    expect(report.checks.find((c) => c.name === "secrets")?.state).toBe("example");
    expect(report.settings.JWT_SECRET).toBe("set");
    expect(report.settings.DEPLOY_ENV).toBe("default");
    expect(text).not.toContain(JWT_SECRET);
    expect(text).not.toContain(ADMIN_TOKEN);
  });

  it("is for the operator only", async () => {
    expect((await api("/v1/admin/config")).status).toBe(401);
    expect((await api("/v1/admin/config", { headers: await asUser("someone") })).status).toBe(403);
  });
});
