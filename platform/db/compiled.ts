import { is, Param, Placeholder } from "drizzle-orm";

/** Where one argument of a compiled statement comes from. */
type Slot = { name: string; encode: ((value: unknown) => unknown) | null } | { constant: unknown };

export interface Compiled {
  /** The statement's SQL text, `?` for each argument. */
  text: string;
  /** The arguments in order, from the named values. */
  args(values: Record<string, unknown>): unknown[];
}

/**
 * A drizzle query with named placeholders, compiled once to its SQL text and the place of each
 * name. Running it is then one array of arguments, where drizzle's prepared query would test
 * every parameter's class again on every execution (`fillPlaceholders`): a measurable share of
 * the drain's CPU with hundreds of rows of a dozen columns per batch. Same rules as drizzle's:
 * a placeholder bound to a column goes through that column's encoder.
 */
export function compile(query: { toSQL(): { sql: string; params: unknown[] } }): Compiled {
  const { sql: text, params } = query.toSQL();
  const slots: Slot[] = params.map((p) => {
    if (is(p, Placeholder)) return { name: p.name, encode: null };
    if (is(p, Param) && is(p.value, Placeholder)) {
      const encoder = p.encoder;
      return { name: p.value.name, encode: (v: unknown) => encoder.mapToDriverValue(v) };
    }
    return { constant: p };
  });
  return {
    text,
    args: (values) =>
      slots.map((slot) => {
        if ("constant" in slot) return slot.constant;
        if (!(slot.name in values)) throw new Error(`no value for placeholder "${slot.name}"`);
        const value = values[slot.name];
        return slot.encode ? slot.encode(value) : value;
      }),
  };
}
