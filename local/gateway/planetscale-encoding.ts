/**
 * Wire encoding of PlanetScale's HTTP database API (`psdb.v1alpha1`), as `@planetscale/database`
 * decodes it: Vitess `query.Field`s and `query.Row`s in proto3 JSON (zero values omitted, 64-bit
 * integers as strings, bytes as base64), and Vitess errors `{ message, code }` whose message
 * carries MySQL's `(errno N) (sqlstate S)` the way vttablet reports them.
 */
import type { FieldPacket, ResultSetHeader } from "mysql2/promise";

/** proto3 JSON of `query.Field`. */
export interface VitessField {
  name: string;
  /** Omitted for NULL_TYPE (the enum's zero value); the client then reads it as "NULL". */
  type?: string;
  table?: string;
  orgTable?: string;
  database?: string;
  orgName?: string;
  columnLength?: number;
  charset?: number;
  decimals?: number;
  flags?: number;
}

/** proto3 JSON of `query.Row`: byte lengths (-1 = NULL) and the concatenated values. */
export interface VitessRow {
  lengths: string[];
  values?: string;
}

/** proto3 JSON of `query.QueryResult`. */
export interface VitessResult {
  fields?: VitessField[];
  rows?: VitessRow[];
  rowsAffected?: string;
  insertId?: string;
}

/** `vtrpc.RPCError` as the API returns it. */
export interface VitessError {
  message: string;
  code: string;
}

/** mysql2 raw row: with `typeCast: false` every value is the text-protocol bytes or null. */
export type RawRow = (Buffer | null)[];

const BINARY_CHARSET = 63;
const FLAG_BINARY = 128;
const FLAG_UNSIGNED = 32;
const FLAG_ENUM = 256;
const FLAG_SET = 2048;
const FLAG_NUM = 32768;
/** MariaDB's NOT_FIXED_DEC; MySQL (and so PlanetScale) reports 31. */
const MARIADB_NOT_FIXED_DEC = 39;
const MYSQL_NOT_FIXED_DEC = 31;

/** MySQL column type → Vitess type before flags (go/sqltypes `mysqlToType`). */
const BASE_TYPES: Record<number, string> = {
  0: "DECIMAL",
  1: "INT8",
  2: "INT16",
  3: "INT32",
  4: "FLOAT32",
  5: "FLOAT64",
  6: "NULL_TYPE",
  7: "TIMESTAMP",
  8: "INT64",
  9: "INT24",
  10: "DATE",
  11: "TIME",
  12: "DATETIME",
  13: "YEAR",
  14: "DATE",
  15: "VARCHAR",
  16: "BIT",
  17: "TIMESTAMP",
  18: "DATETIME",
  19: "TIME",
  242: "VECTOR",
  245: "JSON",
  246: "DECIMAL",
  247: "ENUM",
  248: "SET",
  249: "TEXT",
  250: "TEXT",
  251: "TEXT",
  252: "TEXT",
  253: "VARCHAR",
  254: "CHAR",
  255: "GEOMETRY",
};

const UNSIGNED: Record<string, string> = {
  INT8: "UINT8",
  INT16: "UINT16",
  INT24: "UINT24",
  INT32: "UINT32",
  INT64: "UINT64",
};

const NUMERIC_COLUMN_TYPES = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 13, 246]);

/** Vitess type name for a MySQL column (go/sqltypes `modifyType`), JSON from MariaDB's metadata. */
function vitessType(field: FieldPacket): string {
  const columnType = field.columnType ?? field.type ?? 253;
  const flags = numericFlags(field);
  // MariaDB's JSON is LONGTEXT on the wire; its extended metadata says `format=json`.
  if (field.extendedFormat === "json") return "JSON";
  const base = BASE_TYPES[columnType] ?? "VARBINARY";
  const binary = (flags & FLAG_BINARY) !== 0;
  if (flags & FLAG_UNSIGNED && UNSIGNED[base]) return UNSIGNED[base] as string;
  switch (base) {
    case "TEXT":
      return binary ? "BLOB" : "TEXT";
    case "VARCHAR":
      return binary ? "VARBINARY" : "VARCHAR";
    case "CHAR":
      if (binary) return "BINARY";
      if (flags & FLAG_ENUM) return "ENUM";
      if (flags & FLAG_SET) return "SET";
      return "CHAR";
    default:
      return base;
  }
}

function numericFlags(field: FieldPacket): number {
  return typeof field.flags === "number" ? field.flags : 0;
}

/** One field in proto3 JSON, with MySQL's conventions where MariaDB's differ. */
function encodeField(field: FieldPacket): VitessField {
  const type = vitessType(field);
  const columnType = field.columnType ?? field.type ?? 253;
  let flags = numericFlags(field);
  if (NUMERIC_COLUMN_TYPES.has(columnType)) flags |= FLAG_NUM;
  let charset = field.characterSet ?? field.charsetNr ?? 0;
  if (type === "JSON") {
    // MySQL sends JSON as a binary-charset BLOB.
    charset = BINARY_CHARSET;
    flags |= FLAG_BINARY | 16;
  }
  let decimals = field.decimals ?? 0;
  if (decimals === MARIADB_NOT_FIXED_DEC) decimals = MYSQL_NOT_FIXED_DEC;
  const out: VitessField = { name: field.name };
  if (type !== "NULL_TYPE") out.type = type;
  if (field.table) out.table = field.table;
  if (field.orgTable) out.orgTable = field.orgTable;
  const database = field.schema ?? field.db;
  if (database && field.orgTable) out.database = database;
  if (field.orgName) out.orgName = field.orgName;
  if (field.columnLength) out.columnLength = field.columnLength;
  if (charset) out.charset = charset;
  if (decimals) out.decimals = decimals;
  if (flags) out.flags = flags;
  return out;
}

function encodeRow(row: RawRow): VitessRow {
  const lengths: string[] = [];
  const parts: Buffer[] = [];
  for (const value of row) {
    if (value === null || value === undefined) {
      lengths.push("-1");
    } else {
      lengths.push(String(value.length));
      parts.push(value);
    }
  }
  const bytes = Buffer.concat(parts);
  return bytes.length > 0 ? { lengths, values: bytes.toString("base64") } : { lengths };
}

export function encodeRows(fields: FieldPacket[], rows: RawRow[]): VitessResult {
  const result: VitessResult = { fields: fields.map(encodeField) };
  if (rows.length > 0) result.rows = rows.map(encodeRow);
  return result;
}

export function encodeHeader(header: ResultSetHeader): VitessResult {
  const result: VitessResult = {};
  const affected = String(header.affectedRows ?? 0);
  const insertId = String(header.insertId ?? 0);
  if (affected !== "0") result.rowsAffected = affected;
  if (insertId !== "0") result.insertId = insertId;
  return result;
}

/** vtrpc codes (UPPER_SNAKE, as in the API's `error.code`) → gRPC names used in the message. */
const GRPC_NAMES: Record<string, string> = {
  UNKNOWN: "Unknown",
  INVALID_ARGUMENT: "InvalidArgument",
  DEADLINE_EXCEEDED: "DeadlineExceeded",
  NOT_FOUND: "NotFound",
  ALREADY_EXISTS: "AlreadyExists",
  PERMISSION_DENIED: "PermissionDenied",
  RESOURCE_EXHAUSTED: "ResourceExhausted",
  FAILED_PRECONDITION: "FailedPrecondition",
  ABORTED: "Aborted",
  UNIMPLEMENTED: "Unimplemented",
  UNAVAILABLE: "Unavailable",
};

function codes(code: string, errnos: number[]): [number, string][] {
  return errnos.map((n) => [n, code]);
}

/** MySQL errno → vtrpc code, after vttablet's `convertErrorCode` (the common errors). */
const ERRNO_CODES = new Map<number, string>([
  ...codes("UNIMPLEMENTED", [1235]),
  ...codes(
    "RESOURCE_EXHAUSTED",
    [1021, 1037, 1038, 1040, 1041, 1114, 1129, 1135, 1153, 1203, 1206, 1226],
  ),
  ...codes("DEADLINE_EXCEEDED", [1205, 2013]),
  ...codes("UNAVAILABLE", [2006, 1053]),
  ...codes("NOT_FOUND", [1029, 1032, 1054, 1094, 1109, 1122, 1141, 1146, 1147, 1176]),
  ...codes("PERMISSION_DENIED", [1044, 1045, 1095, 1142, 1143, 1211, 1227]),
  ...codes(
    "FAILED_PRECONDITION",
    [1046, 1082, 1091, 1099, 1100, 1104, 1148, 1162, 1169, 1173, 1179, 1215, 1216, 1217, 1223],
  ),
  ...codes("FAILED_PRECONDITION", [1241, 1242, 1288, 1289, 1291, 1364, 1451, 1452, 1792]),
  ...codes("ALREADY_EXISTS", [1050, 1062, 1086, 1125]),
  ...codes("ABORTED", [1078, 1080, 1152, 1213]),
  ...codes(
    "INVALID_ARGUMENT",
    [1047, 1048, 1049, 1051, 1052, 1055, 1056, 1057, 1058, 1059, 1060, 1061, 1063, 1064, 1065],
  ),
  ...codes(
    "INVALID_ARGUMENT",
    [1066, 1067, 1068, 1069, 1070, 1071, 1072, 1073, 1074, 1075, 1083, 1084, 1089, 1090, 1093],
  ),
  ...codes(
    "INVALID_ARGUMENT",
    [1096, 1097, 1101, 1102, 1103, 1106, 1107, 1108, 1110, 1111, 1113, 1115, 1116, 1117, 1118],
  ),
  ...codes(
    "INVALID_ARGUMENT",
    [1120, 1121, 1128, 1136, 1138, 1139, 1140, 1149, 1166, 1167, 1170, 1171, 1172, 1193, 1210],
  ),
  ...codes(
    "INVALID_ARGUMENT",
    [1222, 1228, 1229, 1231, 1232, 1238, 1239, 1248, 1253, 1264, 1265, 1292, 1300, 1366, 1406],
  ),
]);

export interface SqlErrorInfo {
  errno: number;
  sqlState: string;
  message: string;
}

/**
 * A MySQL error as vtgate reports one that vttablet got from MySQL, e.g.
 * `target: db.-.primary: vttablet: rpc error: code = AlreadyExists desc = Duplicate entry '1' for
 * key 'PRIMARY' (errno 1062) (sqlstate 23000) (CallerID: user): Sql: "insert ...", BindVars: {}`.
 */
export function vitessSqlError(
  err: SqlErrorInfo,
  ctx: { database: string; username: string; sql: string },
): VitessError {
  const code = ERRNO_CODES.get(err.errno) ?? "UNKNOWN";
  const sql = ctx.sql.length > 4096 ? `${ctx.sql.slice(0, 4084)} [TRUNCATED]` : ctx.sql;
  const message =
    `target: ${ctx.database}.-.primary: vttablet: rpc error: code = ${GRPC_NAMES[code]} ` +
    `desc = ${err.message} (errno ${err.errno}) (sqlstate ${err.sqlState}) ` +
    `(CallerID: ${ctx.username}): Sql: ${JSON.stringify(sql)}, BindVars: {}`;
  return { message, code };
}

/** An error that vtgate raises itself (no MySQL errno), e.g. a statement it does not serve. */
export function vitessError(code: string, desc: string): VitessError {
  return {
    message: `vttablet: rpc error: code = ${GRPC_NAMES[code] ?? "Unknown"} desc = ${desc}`,
    code,
  };
}
