interface Route {
  method: string;
  path: string;
}

const patterns = new Map<string, RegExp>();

/** A hono path (`/v1/events/:id/claims`) as a regular expression over concrete paths. */
function pattern(path: string): RegExp {
  let re = patterns.get(path);
  if (!re) {
    const body = path
      .split("/")
      .map((segment) =>
        segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("/");
    re = new RegExp(`^${body}/?$`);
    patterns.set(path, re);
  }
  return re;
}

/** The methods served on `path`, for a 405's Allow header; empty when the path is unknown. */
export function allowedMethods(routes: readonly Route[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    if (pattern(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  if (methods.size > 0) methods.add("OPTIONS");
  return [...methods].sort();
}
