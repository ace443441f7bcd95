/**
 * A first start as root in a folder other users cannot enter (a `mktemp -d` checkout: what every
 * CI runner and most dev containers are). PostgreSQL refuses root, so the embedded database runs
 * as the OS user postgres, which cannot enter that folder for the binaries under node_modules nor
 * for DATA_DIR: they are put where it can reach them, and the start says so once, then serves.
 * The service runs as `npm start` runs it (plain node on the compiled entry), from such a folder
 * holding the package's files (node_modules hard-linked: the same bytes, in a private folder).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT } from "./support/build.ts";
import { startServiceIn } from "./support/process.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const asRoot = process.getuid?.() === 0;

test("as root in a mode-700 folder: the embedded database is placed where postgres can reach it, said once, and Register answers 201", { skip: !asRoot && "runs only as root (the case is root's)" }, async () => {
  const home = mkdtempSync(path.join(tmpdir(), "vera-private-"));
  assert.equal(statSync(home).mode & 0o777, 0o700, "mkdtemp makes a private folder");
  let relocated: string | undefined;
  try {
    const linked = spawnSync("cp", ["-al", path.join(ROOT, "node_modules"), home]);
    if (linked.status !== 0) cpSync(path.join(ROOT, "node_modules"), path.join(home, "node_modules"), { recursive: true, verbatimSymlinks: true });
    cpSync(path.join(ROOT, "dist"), path.join(home, "dist"), { recursive: true });
    cpSync(path.join(ROOT, "package.json"), path.join(home, "package.json"));

    // Nothing configured: DATA_DIR is .data in the private folder.
    const service = startServiceIn(home, { PLUGBOARD_PORT: "0", BCRYPT_COST: "4", LOG_LEVEL: "info" });
    try {
      const ready = await service.waitForLine((l) => typeof l.explorer === "string", 90_000);
      const said = service.lines().filter((l) => /PostgreSQL refuses to run as root/.test(String(l.msg))).map((l) => String(l.msg));
      assert.equal(said.length, 2, `once for the binaries, once for the data: ${said.join(" | ")}`);
      assert.match(said.join("\n"), /binaries are run from a copy in \/var\/cache\/vera-service\//);
      const where = /kept in (\/var\/lib\/vera-service\/\S+) \(the OS user postgres cannot enter/.exec(said.join("\n"));
      assert.ok(where, said.join("\n"));
      relocated = path.dirname(where[1]!);
      const answer = await fetch(String(ready.explorer), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: "Register", fields: { name: "Root", username: "rooted", password: "correct horse" } }),
      });
      assert.equal(answer.status, 201, await answer.text());
    } finally {
      service.kill("SIGTERM");
      assert.equal((await service.exited).code, EXIT_CODE.ok, service.output().slice(-2000));
    }
    // A second start finds the same database where the first put it.
    const again = startServiceIn(home, { PLUGBOARD_PORT: "0", BCRYPT_COST: "4", LOG_LEVEL: "info" });
    try {
      const ready = await again.waitForLine((l) => typeof l.explorer === "string", 90_000);
      const login = await fetch(String(ready.explorer), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: "Login", fields: { username: "rooted", password: "correct horse" } }),
      });
      assert.equal(login.status, 200);
    } finally {
      again.kill("SIGTERM");
      await again.exited;
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
    if (relocated) rmSync(relocated, { recursive: true, force: true });
  }
});
