// A throw-away PostgreSQL cluster for the benchmark: Debian's server binaries, a fresh cluster in a
// temp dir, listening on a unix socket only (listen_addresses = ''), owned by the `postgres`
// system user because PostgreSQL refuses to run as root. startPostgres() returns { skipped: reason }
// when the binaries or lua-dbi-postgresql cannot be found or installed; the bench prints the reason.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const PG_ROOT = "/usr/lib/postgresql";
const LUA_DBI_PG = "/usr/lib/x86_64-linux-gnu/lua/5.4/dbi/postgresql.so";

function pgBin() {
  if (!fs.existsSync(PG_ROOT)) return null;
  const versions = fs.readdirSync(PG_ROOT).filter((v) => fs.existsSync(path.join(PG_ROOT, v, "bin", "postgres"))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(PG_ROOT, versions[0], "bin") : null;
}

function luaDbiPostgres() {
  try {
    execFileSync("dpkg-query", ["-W", "-f=${Status}", "lua-dbi-postgresql"], { stdio: "pipe" });
    return execFileSync("dpkg-query", ["-W", "-f=${Status}", "lua-dbi-postgresql"], { encoding: "utf8" }).includes("install ok installed");
  } catch {
    return false;
  }
}

/** Installs Debian's postgresql and lua-dbi-postgresql if missing (root only); returns a reason on failure. */
export function ensurePostgresInstalled() {
  const missing = [];
  if (!pgBin()) missing.push("postgresql");
  if (!luaDbiPostgres()) missing.push("lua-dbi-postgresql");
  if (missing.length === 0) return null;
  if (process.getuid?.() !== 0) return `${missing.join(" and ")} not installed, and installing needs root`;
  // Through test/apt-no-services.sh, as the test set-up installs: the postgresql service the
  // package brings is neither started nor left enabled (the bench starts its own cluster).
  const helper = new URL("../test/apt-no-services.sh", import.meta.url).pathname;
  const install = (update) =>
    execFileSync("bash", ["-c", `${update ? "apt-get update -qq -o DPkg::Lock::Timeout=600; " : ""}. "$0"; CAMCTL_INSTALL_TAG="camctl bench" apt_install_quietly --no-install-recommends -- "$@"`, helper, ...missing], { stdio: "pipe" });
  try {
    try {
      install(false);
    } catch {
      install(true); // a fresh machine's package lists may be empty or stale
    }
  } catch (e) {
    return `apt-get could not install ${missing.join(" and ")} (${String(e.stderr ?? e.message).trim().split("\n").pop()})`;
  }
  return pgBin() && luaDbiPostgres() ? null : `${missing.join(" and ")} still missing after apt-get`;
}

/**
 * Starts a cluster with a database `prosody` owned by role `prosody` (trust auth over the socket).
 * Returns { socketDir, sql, stop() } where `sql` is Prosody's `sql = { … }` table as a Lua string.
 */
export async function startPostgres() {
  const reason = ensurePostgresInstalled();
  if (reason) return { skipped: reason };
  const bin = pgBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-pg-"));
  const data = path.join(dir, "data");
  const asPostgres = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  if (asPostgres.length) execFileSync("chown", ["postgres:postgres", dir]);
  fs.chmodSync(dir, 0o755);
  const run = (cmd, args) => execFileSync(asPostgres[0] ?? cmd, asPostgres.length ? [...asPostgres.slice(1), cmd, ...args] : args, { stdio: "pipe" });
  run(path.join(bin, "initdb"), ["-D", data, "-U", "prosody", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const server = spawn(asPostgres[0] ?? path.join(bin, "postgres"), [
    ...(asPostgres.length ? [...asPostgres.slice(1), path.join(bin, "postgres")] : []),
    "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
  ], { stdio: "ignore", detached: false });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      run(path.join(bin, "pg_isready"), ["-h", dir, "-U", "prosody", "-d", "postgres"]);
      break;
    } catch {
      if (Date.now() > deadline) {
        server.kill("SIGKILL");
        return { skipped: "the throw-away PostgreSQL cluster did not start within 20 s" };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  run(path.join(bin, "createdb"), ["-h", dir, "-U", "prosody", "prosody"]);
  const sqlFor = (database) => `{ driver = "PostgreSQL", database = ${JSON.stringify(database)}, username = "prosody", host = ${JSON.stringify(dir)} }`;
  return {
    socketDir: dir,
    sql: sqlFor("prosody"),
    /** A fresh, empty database (name: letters, digits, _) in the same cluster; returns its `sql = { … }` table. */
    database(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bench: bad database name ${name}`);
      run(path.join(bin, "createdb"), ["-h", dir, "-U", "prosody", name]);
      return sqlFor(name);
    },
    async stop() {
      // runuser does not pass signals on; pg_ctl stops the postmaster itself.
      try {
        run(path.join(bin, "pg_ctl"), ["-D", data, "stop", "-m", "immediate"]);
      } catch {
        server.kill("SIGKILL");
      }
      await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
