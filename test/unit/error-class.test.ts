/** The coarse error classes `/health` shows instead of error text. */
import { describe, expect, it } from "vitest";
import { errorClass } from "../../platform/error-class.ts";

/** Like @planetscale/database's: the HTTP status on the error, not in its text. */
class DatabaseError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "DatabaseError";
    this.status = status;
  }
}

describe("error classes", () => {
  const cases: [string, unknown, string][] = [
    ["a probe past its deadline", new Error("mysql timed out after 2000 ms"), "timeout"],
    ["an aborted fetch", new Error("The operation was aborted due to timeout"), "timeout"],
    ["a refused connection (Node)", new Error("connect ECONNREFUSED 127.0.0.1:8791"), "refused"],
    ["a lost connection (workerd)", new Error("Network connection lost."), "unreachable"],
    ["a name that does not resolve", new Error("getaddrinfo ENOTFOUND db.example"), "unreachable"],
    ["an HTTP 500 in the text", new Error("Kafka answered HTTP 503"), "http-5xx"],
    ["an HTTP 401 in the text", new Error("Kafka REST produce answered HTTP 401"), "http-4xx"],
    ["a client error carrying its status", new DatabaseError("", 500), "http-5xx"],
    [
      "a refused statement quoting a user called 'timeout refused'",
      "DatabaseError: target: coupons.-.primary: vttablet: rpc error: code = Unknown desc = injected fault (errno 1644) (sqlstate 45000): Sql: \"INSERT ... 'timeout refused'\"",
      "rejected",
    ],
    [
      "a Kafka record refused",
      "INVALID_RECORD: This record failed the broker's validation",
      "rejected",
    ],
    [
      "a merge conflict",
      "conflict: another coupon holds this record's (event_id, user_id) in user_coupons; not merged",
      "conflict",
    ],
    ["anything else", new Error("something odd"), "error"],
  ];
  for (const [what, err, expected] of cases) {
    it(`${what}: ${expected}`, () => {
      expect(errorClass(err)).toBe(expected);
    });
  }

  it("looks through causes", () => {
    const wrapped = new Error("Failed query", { cause: new Error("Network connection lost.") });
    expect(errorClass(wrapped)).toBe("unreachable");
  });
});
