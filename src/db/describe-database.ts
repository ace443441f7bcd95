/** Where a database is, for a log line: without its password or parameters (no pg needed). */
export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : "";
  return `postgres://${user}${parsed.host || parsed.searchParams.get("host") || "localhost"}${parsed.pathname}`;
}
