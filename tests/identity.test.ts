/**
 * Lookalike usernames. An outside attack registered "аdmin" (Cyrillic а), fullwidth "ａｄｍｉｎ",
 * and "admin" followed by U+034F, U+3164, U+2800, U+FE0F or U+0301 beside "admin". Through the
 * real Register, Edit and Login on PostgreSQL: every lookalike is refused (409), every name
 * with an invisible character too (400), legitimate names still register, a fullwidth login
 * finds the account; and accounts from before the change (old normalization, inserted by SQL
 * before account/migrations/0004) keep logging in as typed, with the backfill of their skeletons.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { createTestDatabase, migrateAccountBefore, SERVICE_MIGRATIONS, type FreshDatabase } from "./support/database.ts";
import { register, startAccounts, testConfig, type Accounts } from "./support/accounts.ts";
import { captureLogs } from "./support/logs.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import { legacyUsernameForm, normalizeUsername, USERNAME_KEYS_VERSION, usernameCasedSkeleton, usernameProblem, usernameSkeleton } from "../account/identifiers.ts";
import { rekeyStaleUsernames } from "../account/username-keys.ts";
import { lengthErrors } from "../account/limits.ts";

const PASSWORD = "password123";
const INVISIBLE_MESSAGE = "must not contain invisible or formatting characters";

/** Each looks like "admin" but was a different username before. */
const LOOKALIKES: Array<[string, string]> = [
  ["Cyrillic а (U+0430)", "\u0430dmin"],
  ["fullwidth ａｄｍｉｎ", "\uFF41\uFF44\uFF4D\uFF49\uFF4E"],
  ["admin + U+0301 COMBINING ACUTE ACCENT (admiń)", "admin\u0301"],
  ["mathematical bold 𝐚 (U+1D41A)", "\u{1D41A}dmin"],
  ["Arabic small damma U+0618 over the n", "admin\u0618"],
];

/** "admin" and a character that shows as nothing. */
const INVISIBLES: Array<[string, string]> = [
  ["U+034F COMBINING GRAPHEME JOINER", "admin\u034F"],
  ["U+3164 HANGUL FILLER", "admin\u3164"],
  ["U+2800 BRAILLE PATTERN BLANK", "admin\u2800"],
  ["U+FE0F VARIATION SELECTOR-16", "admin\uFE0F"],
  ["U+FFA0 HALFWIDTH HANGUL FILLER", "ad\uFFA0min"],
  ["U+115F HANGUL CHOSEONG FILLER", "\u115Fadmin"],
];

/**
 * What a second outside attack registered beside "alice", "paypal" and "admin": a capital I for
 * an l (case was folded before the skeleton was taken, so I → l never applied), and nonspacing
 * marks of other scripts than Inherited, appended or inserted.
 */
const SECOND_ATTACK: Array<[string, string, string]> = [
  ["capital I for l", "alice", "aIice"],
  ["capital I for l, last", "paypal", "paypaI"],
  ...(["\u0483", "\u0E47", "\u0610", "\u1037", "\u0F35"].flatMap((mark) => [
    [`U+${mark.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")} appended`, "admin", `admin${mark}`],
    [`U+${mark.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")} inserted`, "admin", `adm${mark}in`],
  ]) as Array<[string, string, string]>),
];

/** Whether two usernames are too close: either lookalike key is the same. */
const collide = (a: string, b: string) => usernameSkeleton(a) === usernameSkeleton(b) || usernameCasedSkeleton(a) === usernameCasedSkeleton(b);

const subjectOf = (jwt: string) => Number(JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).sub);

describe("username rules (account/identifiers.ts)", () => {
  test("normalizeUsername: NFKC and full case folding; legacyUsernameForm: NFC and lower case", () => {
    assert.equal(normalizeUsername("ＡＤＭＩＮ"), "admin");
    assert.equal(normalizeUsername("Straße"), "strasse");
    assert.equal(normalizeUsername("STRAẞE"), "strasse", "capital ẞ folds like ß (toUpperCase().toLowerCase() would not)");
    assert.equal(normalizeUsername("ΟΔΥΣΣΕΥΣ"), normalizeUsername("οδυσσευς"), "final sigma");
    assert.equal(normalizeUsername("ﬁne"), "fine");
    assert.equal(normalizeUsername("e\u0301"), "\u00e9", "composed again after folding");
    assert.equal(legacyUsernameForm("Straße"), "straße");
    assert.equal(legacyUsernameForm("ＡＤＭＩＮ"), "ａｄｍｉｎ");
  });

  test("usernameSkeleton: lookalikes, accents and invisible characters collide; other words do not", () => {
    const admin = usernameSkeleton("admin");
    const alike: Array<[string, string]> = [...LOOKALIKES, ...INVISIBLES, ["capitals", "ADMIN"], ["rn for m", "adrnin"], ["dotless ı", "adm\u0131n"]];
    for (const [what, name] of alike) {
      assert.equal(usernameSkeleton(name), admin, what);
    }
    assert.equal(usernameSkeleton("josé"), usernameSkeleton("jose"));
    assert.equal(usernameSkeleton("Ünal"), usernameSkeleton("unal"));
    // A Devanagari vowel sign is part of the word, not an accent: it stays.
    assert.notEqual(usernameSkeleton("विकास"), usernameSkeleton("वकास"));
    for (const other of ["adman", "admins", "bdmin", "東京tokyo"]) assert.notEqual(usernameSkeleton(other), admin, other);
  });

  test("the second attack's lookalikes collide through one key or the other; plain distinct names stay distinct", () => {
    for (const [what, original, lookalike] of SECOND_ATTACK) assert.ok(collide(original, lookalike), `${what}: ${lookalike}`);
    assert.equal(usernameCasedSkeleton("aIice"), usernameCasedSkeleton("alice"), "the skeleton before case folding");
    assert.equal(usernameCasedSkeleton("AIice"), usernameCasedSkeleton("Alice"));
    for (const [a, b] of [["anna", "ana"], ["alice", "alicia"], ["bob", "rob"], ["l1", "l2"], ["admin", "adman"]]) assert.ok(!collide(a!, b!), `${a} and ${b} stay distinct`);
    assert.ok(collide("m", "rn"), "rn for m stays refused");
  });

  test("usernameProblem: invisible and formatting characters, spaces, a leading combining mark", () => {
    for (const [what, name] of INVISIBLES) assert.equal(usernameProblem(name), INVISIBLE_MESSAGE, what);
    for (const name of ["a\u200Bb", "a\u200Db", "a\u00ADb", "a\u202Eb", "a\u2060b", "a\u{E0041}b", "a\u0007b", "a\uE000b"]) {
      assert.equal(usernameProblem(name), INVISIBLE_MESSAGE, JSON.stringify(name));
    }
    assert.equal(usernameProblem("a b"), "must not contain spaces");
    assert.equal(usernameProblem("ab\u00A8"), "must not contain spaces", "¨ is a space and a diaeresis in NFKC");
    assert.equal(usernameProblem("\u0301abc"), "must not start with a combining mark");
    assert.equal(usernameProblem(""), "must not be empty");
    for (const name of ["admin", "josé", "Ünal", "東京tokyo", "विकास", "Straße", "ａｄｍｉｎ", "o'brien", "a.b-c_d"]) {
      assert.equal(usernameProblem(name), undefined, name);
    }
  });

  test("lengthErrors reports usernameProblem, and counts a username's characters after NFKC", () => {
    const limits = testConfig("postgres://unused").limits;
    assert.deepEqual(lengthErrors({ username: "admin\u3164" }, limits), [{ field: "username", message: INVISIBLE_MESSAGE }]);
    const max = limits.username.max;
    assert.deepEqual(lengthErrors({ username: "a".repeat(max - 1) + "\uFB03" }, limits), [
      { field: "username", message: `must be at most ${max} characters` },
    ], "ﬃ is three characters in NFKC");
    assert.deepEqual(lengthErrors({ username: "a".repeat(max - 1) + "é" }, limits), []);
  });
});

describe("lookalike usernames through Register, Edit and Login", () => {
  let accounts: Accounts;
  let adminId: number;
  before(async () => {
    accounts = await startAccounts();
    adminId = subjectOf(await register(accounts, { username: "admin", password: PASSWORD }));
  });
  after(() => accounts?.close());

  const registerAs = (username: string) => accounts.dispatch("Register", { name: "Mallory", username, password: PASSWORD });
  const liveCount = async () =>
    Number(
      (
        await accounts.services.db
          .selectFrom("users")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("deleted_at", "is", null)
          .executeTakeFirstOrThrow()
      ).n,
    );

  for (const [what, name] of LOOKALIKES) {
    test(`Register ${what} beside admin → 409 User already exists`, async () => {
      const count = await liveCount();
      const answer = await registerAs(name);
      assert.deepEqual([answer.status_code, answer.message, answer.fields], [409, "User already exists", null]);
      assert.equal(await liveCount(), count, "no account was created");
    });
  }

  for (const [what, name] of INVISIBLES) {
    test(`Register admin with ${what} → 400`, async () => {
      const answer = await registerAs(name);
      assert.equal(answer.status_code, 400);
      assert.equal(answer.message, `Invalid fields: username: ${INVISIBLE_MESSAGE}`);
    });
  }

  test("Edit to a lookalike of admin → 409; to an invisible variant → 400", async () => {
    const token = await register(accounts, { username: "edith", password: PASSWORD });
    const edit = (username: string) => accounts.dispatch("Edit", { jwt: token, username, current_password: PASSWORD });
    for (const [what, name] of LOOKALIKES) {
      const answer = await edit(name);
      // The wording of Edit's 409 is the actions' business (actions/Edit.ts); the status is the point.
      assert.deepEqual([answer.status_code, answer.status], [409, "error"], `${what}: ${answer.message}`);
    }
    for (const [what, name] of INVISIBLES) {
      const answer = await edit(name);
      assert.deepEqual([answer.status_code, answer.message], [400, `Invalid fields: username: ${INVISIBLE_MESSAGE}`], what);
    }
    const row = await accounts.services.users.findById(subjectOf(token));
    assert.equal(row?.username, "edith", "unchanged");
    // A variant of one's own username is no conflict: it is stored in NFKC.
    assert.equal((await edit("ＥＤＩＴＨ")).status_code, 200);
    const edited = await accounts.services.users.findById(subjectOf(token));
    assert.deepEqual([edited?.username, edited?.username_normalized, edited?.username_skeleton], ["EDITH", "edith", usernameSkeleton("edith")]);
  });

  test("the second attack's lookalikes beside alice, paypal and admin → 409; anna and ana both register", async () => {
    // A database of its own: the tests above used up admin's count of 409s (then 429).
    const own = await startAccounts();
    try {
      const registerHere = (username: string) => own.dispatch("Register", { name: "Mallory", username, password: PASSWORD });
      for (const name of ["alice", "paypal", "admin", "anna"]) assert.equal((await registerHere(name)).status_code, 201, name);
      for (const [what, , lookalike] of SECOND_ATTACK) {
        const answer = await registerHere(lookalike);
        assert.deepEqual([answer.status_code, answer.message], [409, "User already exists"], what);
      }
      assert.equal((await registerHere("ana")).status_code, 201, "a plain distinct name");
      assert.equal((await registerHere("tern")).status_code, 201);
      assert.equal((await registerHere("tem")).status_code, 409, "m looks like rn");
    } finally {
      await own.close();
    }
  });

  test("Login with fullwidth ａｄｍｉｎ (or ADMIN) signs in to admin", async () => {
    for (const username of ["ａｄｍｉｎ", "ADMIN", "\u{1D41A}dmin"]) {
      const answer = await accounts.dispatch("Login", { username, password: PASSWORD });
      assert.equal(answer.status_code, 200, username);
      assert.equal(subjectOf((answer.fields as { jwt: string }).jwt), adminId, username);
    }
    // A lookalike of another script is not the same username.
    assert.equal((await accounts.dispatch("Login", { username: "\u0430dmin", password: PASSWORD })).status_code, 404);
  });

  test("legitimate names register beside admin, stored in NFKC with their skeleton", async () => {
    for (const name of ["josé", "Ünal", "東京tokyo", "विकास", "Straße", "ǅemal"]) {
      const answer = await registerAs(name);
      assert.equal(answer.status_code, 201, `${name}: ${answer.message}`);
      const row = await accounts.services.users.findById(subjectOf((answer.fields as { jwt: string }).jwt));
      assert.deepEqual(
        [row?.username, row?.username_normalized, row?.username_skeleton],
        [name.normalize("NFKC"), normalizeUsername(name), usernameSkeleton(name)],
        name,
      );
    }
    // Uniqueness ignores accents and case (ß is ss); a Devanagari vowel sign makes another name.
    for (const name of ["jose", "JOSÉ", "unal", "STRASSE", "dzemal"]) {
      assert.equal((await registerAs(name)).status_code, 409, name);
    }
    assert.equal((await registerAs("वकास")).status_code, 201);
    assert.equal((await accounts.dispatch("Login", { username: "STRASSE", password: PASSWORD })).status_code, 200);
  });
});

describe("accounts from before the change", () => {
  const silent = captureLogs("silent").log;
  let database: FreshDatabase;
  let accounts: Accounts;
  const ids: Record<string, number> = {};

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    await migrateAccountBefore(database.db, "0004");
    const digest = bcrypt.hashSync(PASSWORD, 4);
    // As the old code stored them: NFC for display, NFC + lower case to compare.
    for (const [key, username, deleted] of [
      ["strasse", "Straße", false],
      ["carol", "carol", false],
      ["cyrillicCarol", "\u0441\u0430rol", false], // a lookalike of "carol", registered later
      ["fullwidth", "ｆｕｌｌ", false],
      ["ghost", "ghost", true],
    ] as const) {
      const row = await database.db
        .insertInto("users")
        .values({
          name: username,
          username,
          username_normalized: username.normalize("NFC").toLowerCase(),
          password_digest: digest,
          deleted_at: deleted ? new Date() : null,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      ids[key] = row.id;
    }
    const applied = await migrateToLatest(database.db, silent, { sources: SERVICE_MIGRATIONS });
    assert.deepEqual(applied, ["account/0004_username_skeleton", "account/0005_roles", "account/0006_username_keys"]);
    accounts = await startAccounts({ database });
  });
  after(async () => {
    await accounts?.close();
    await database?.drop();
  });

  const login = (username: string) => accounts.dispatch("Login", { username, password: PASSWORD });
  const row = (id: number) => database.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  test("the backfill gives live accounts their skeleton; of two lookalikes only the older keeps it", async () => {
    const strasse = await row(ids.strasse!);
    assert.deepEqual([strasse.username_normalized, strasse.username_skeleton], ["straße", "strasse"], "username_normalized stays in the old form");
    assert.equal((await row(ids.carol!)).username_skeleton, usernameSkeleton("carol"));
    assert.equal((await row(ids.cyrillicCarol!)).username_skeleton, null, "the later lookalike reserves nothing");
    assert.equal((await row(ids.fullwidth!)).username_skeleton, "full");
    assert.equal((await row(ids.ghost!)).username_skeleton, null, "a deleted account reserves nothing");
  });

  test("each still logs in as it was typed, and Register refuses their lookalikes", async () => {
    for (const [typed, key] of [
      ["Straße", "strasse"],
      ["straße", "strasse"],
      ["carol", "carol"],
      ["\u0441\u0430rol", "cyrillicCarol"],
      ["ｆｕｌｌ", "fullwidth"],
    ] as const) {
      const answer = await login(typed);
      assert.equal(answer.status_code, 200, typed);
      assert.equal(subjectOf((answer.fields as { jwt: string }).jwt), ids[key], typed);
    }
    // Folded forms reach them too where the account holds its skeleton.
    assert.equal(subjectOf(((await login("STRASSE")).fields as { jwt: string }).jwt), ids.strasse);
    assert.equal(subjectOf(((await login("FULL")).fields as { jwt: string }).jwt), ids.fullwidth);
    for (const name of ["strasse", "Carol", "\u0441\u0430rol", "ｃａｒｏｌ", "full"]) {
      const answer = await accounts.dispatch("Register", { name: "Mallory", username: name, password: PASSWORD });
      assert.equal(answer.status_code, 409, name);
    }
    // The deleted account's name is free.
    assert.equal((await accounts.dispatch("Register", { name: "New", username: "ghost", password: PASSWORD })).status_code, 201);
  });

  test("an old-form row without a skeleton (inserted after the migration) is found by what was typed", async () => {
    const { id } = await database.db
      .insertInto("users")
      .values({ name: "Weiß", username: "Weiß", username_normalized: "weiß", password_digest: bcrypt.hashSync(PASSWORD, 4) })
      .returning("id")
      .executeTakeFirstOrThrow();
    const found = await accounts.services.users.findLive({ kind: "username", normalized: normalizeUsername("Weiß"), typed: "Weiß" });
    assert.equal(found?.id, id);
    // Without what was typed, only the folded form is known: "weiss", which no account holds.
    assert.equal(await accounts.services.users.findLive({ kind: "username", normalized: normalizeUsername("Weiß") }), undefined);
  });

  test("Login passes what was typed, so such a row logs in too", async () => {
    await database.db
      .insertInto("users")
      .values({ name: "Groß", username: "Groß", username_normalized: "groß", password_digest: bcrypt.hashSync(PASSWORD, 4) })
      .execute();
    assert.equal((await login("Groß")).status_code, 200);
  });
});

describe("accounts keyed by the earlier rules (account/migrations/0006_username_keys.ts and the housekeeping round)", () => {
  const silent = captureLogs("silent").log;
  let database: FreshDatabase;
  let accounts: Accounts;
  const ids: Record<string, number> = {};
  const digest = bcrypt.hashSync(PASSWORD, 4);
  /** A row as a replica of the earlier version wrote it: the skeleton by its rules, nothing more. */
  const earlierRow = (username: string, earlierSkeleton: string) => ({
    name: username,
    username,
    username_normalized: normalizeUsername(username),
    username_skeleton: earlierSkeleton,
    password_digest: digest,
  });

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    await migrateAccountBefore(database.db, "0006");
    // The earlier rules folded case first and kept marks of a script: these pairs were allowed.
    for (const [key, username, earlier] of [
      ["alice", "alice", "alice"],
      ["lookalikeAlice", "aIice", "aiice"],
      ["admin", "admin", "adrnin"],
      ["titloAdmin", "admin\u0483", "adrnin\u0483"],
    ] as const) {
      ids[key] = (await database.db.insertInto("users").values(earlierRow(username, earlier)).returning("id").executeTakeFirstOrThrow()).id;
    }
    assert.deepEqual(await migrateToLatest(database.db, silent, { sources: SERVICE_MIGRATIONS }), ["account/0006_username_keys"]);
    accounts = await startAccounts({ database });
  });
  after(async () => {
    await accounts?.close();
    await database?.drop();
  });

  const keys = (id: number) =>
    database.db.selectFrom("users").select(["username_skeleton", "username_cased_skeleton", "username_keys_version"]).where("id", "=", id).executeTakeFirstOrThrow();
  const login = (username: string) => accounts.dispatch("Login", { username, password: PASSWORD });

  test("the migration makes both keys anew; of two lookalikes the older keeps a shared key, and each logs in as typed", async () => {
    assert.deepEqual(await keys(ids.alice!), { username_skeleton: "alice", username_cased_skeleton: "alice", username_keys_version: USERNAME_KEYS_VERSION });
    assert.deepEqual(await keys(ids.lookalikeAlice!), { username_skeleton: "aiice", username_cased_skeleton: null, username_keys_version: USERNAME_KEYS_VERSION });
    assert.deepEqual(await keys(ids.titloAdmin!), { username_skeleton: null, username_cased_skeleton: null, username_keys_version: USERNAME_KEYS_VERSION });
    for (const [typed, key] of [["alice", "alice"], ["aIice", "lookalikeAlice"], ["admin", "admin"], ["admin\u0483", "titloAdmin"]] as const) {
      const answer = await login(typed);
      assert.equal(answer.status_code, 200, typed);
      assert.equal(subjectOf((answer.fields as { jwt: string }).jwt), ids[key], typed);
    }
    for (const name of ["alIce", "adm\u0E47in"]) assert.equal((await accounts.dispatch("Register", { name: "M", username: name, password: PASSWORD })).status_code, 409, name);
  });

  test("an account an older replica registered after the migration gets the current keys in the next housekeeping round", async () => {
    await register(accounts, { username: "paypal" });
    // The earlier rules let "paypaI" in beside "paypal"; the replica wrote no cased key and no version.
    const { id } = await database.db.insertInto("users").values(earlierRow("paypaI", "paypai")).returning("id").executeTakeFirstOrThrow();
    assert.equal(await rekeyStaleUsernames(accounts.services.db), 1);
    assert.deepEqual(await keys(id), { username_skeleton: "paypai", username_cased_skeleton: null, username_keys_version: USERNAME_KEYS_VERSION }, "paypal holds the cased key");
    assert.equal(await rekeyStaleUsernames(accounts.services.db), 0, "nothing left");
    assert.equal((await login("paypaI")).status_code, 200);
    assert.equal((await accounts.dispatch("Register", { name: "M", username: "paypaI", password: PASSWORD })).status_code, 409);
  });
});

