/**
 * Which `Host` and `Origin` headers the dev plugboard's HTTP side answers. Browsers let any page
 * send requests to 127.0.0.1, and DNS rebinding lets a page read the answers under its own name;
 * the name the browser then puts in `Host` (and `Origin`) is the attacker's, so only the board's
 * own names are admitted.
 */

/** Bind addresses that mean "every interface": no name a client could use. */
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/** What every board answers to, wherever it is bound. */
const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** A host name or bracketed IPv6 address, then an optional port; nothing else (no userinfo, no path). */
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/;

/** HTTP's default port: a Host or Origin without one means 80. */
const DEFAULT_HTTP_PORT = 80;

/** `name:port`, lowercased, IPv6 in brackets; null when the text is no authority. */
function normalize(authority: string, defaultPort: number): string | null {
  const match = AUTHORITY.exec(authority.trim().toLowerCase());
  if (!match) return null;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  return port > 65535 ? null : `${match[1]}:${port}`;
}

/** A bind address or configured name as it appears in a Host header: a bare IPv6 address (two or more colons) gets brackets. */
function asHostName(host: string): string {
  const colons = host.split(":").length - 1;
  return colons > 1 && !host.startsWith("[") ? `[${host}]` : host;
}

export class AllowedHosts {
  private readonly authorities: Set<string>;

  /**
   * `bindHost` is the address the board listens on, `port` its port; `extra` are further names,
   * each with a port (taken as is: e.g. a forwarded port) or without (the board's port).
   */
  constructor(bindHost: string, port: number, extra: readonly string[] = []) {
    const names = [...LOOPBACK_NAMES];
    if (!WILDCARD_HOSTS.has(bindHost)) names.push(asHostName(bindHost));
    const withPort = names.map((name) => normalize(name, port));
    const configured = extra.map((name) => normalize(asHostName(name.trim()), port));
    this.authorities = new Set([...withPort, ...configured].filter((a): a is string => a !== null));
  }

  /** Whether a request's `Host` header names this board; a missing one does not. */
  admitsHost(host: string | undefined): boolean {
    const authority = host === undefined ? null : normalize(host, DEFAULT_HTTP_PORT);
    return authority !== null && this.authorities.has(authority);
  }

  /** Whether an `Origin` header is a page served by this board (`http://` one of its names). */
  admitsOrigin(origin: string): boolean {
    const match = /^http:\/\/([^/]+)$/i.exec(origin.trim());
    const authority = match ? normalize(match[1]!, DEFAULT_HTTP_PORT) : null;
    return authority !== null && this.authorities.has(authority);
  }
}
