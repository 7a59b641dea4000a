/**
 * The local cloud's endpoints for conformance tests: the JSON file named by `COUPON_STACK_FILE`
 * (written by the test runner, which starts the stack; shape `StackFile`). Also small helpers the
 * tests share.
 */
import { readFileSync } from "node:fs";
import type { StackFile } from "../../local/stack-types.ts";

let cached: StackFile | undefined;

export function getStack(): StackFile {
  if (cached) return cached;
  const file = process.env.COUPON_STACK_FILE;
  if (!file) {
    throw new Error(
      "COUPON_STACK_FILE is not set: these tests talk to a running local cloud. Run them with `npm test` " +
        "(which starts the stack and sets it), or point COUPON_STACK_FILE at a stack JSON such as .local/stack.json.",
    );
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`COUPON_STACK_FILE=${file} cannot be read: ${(err as Error).message}`);
  }
  cached = JSON.parse(text) as StackFile;
  return cached;
}

/** A request body for `fetch`: a string as it is (malformed JSON on purpose), else JSON. */
export function requestBody(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === "string" ? body : JSON.stringify(body);
}
