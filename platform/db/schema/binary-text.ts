import { customType } from "drizzle-orm/mysql-core";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * An identifier column that compares byte for byte: `VARBINARY(bytes)` holding UTF-8.
 *
 * THE RULE: every identifier (coupon, event, user, order id, idempotency key) is stored in a
 * column of this type, never in a plain `varchar`. A default collation (MariaDB's
 * `utf8mb4_unicode_ci`, MySQL 8's `utf8mb4_0900_ai_ci`) is case-, accent- and pad-insensitive:
 * it made `Alice`/`alice`, `bob`/`bob `, `Straße`/`strasse` and composed/decomposed accents one
 * user, so unique keys merged different users and lookups returned other users' rows. Even
 * `utf8mb4_bin` is PAD SPACE on both MariaDB and MySQL (`bob` = `bob `); only a binary type is
 * byte-exact on every MySQL the service may meet. `bytes` is the UTF-8 size: 4 per character.
 *
 * The PlanetScale driver returns binary columns as `Uint8Array`; this type decodes them back.
 */
export const binaryText = customType<{
  data: string;
  driverData: string | Uint8Array;
  config: { bytes: number };
}>({
  dataType: (config) => `varbinary(${config?.bytes ?? 255})`,
  toDriver: (value) => value,
  fromDriver: (value) => (typeof value === "string" ? value : utf8.decode(value)),
});
