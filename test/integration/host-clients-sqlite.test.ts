// `camctl host clients` over the admin socket, Prosody on SQL storage (SQLite through LuaDBI).
import { describe } from "node:test";
import { sqliteStorageAvailable } from "../sandbox/sandbox.js";
import { hostClientsSuite } from "./host-clients-suite.js";

if (sqliteStorageAvailable()) hostClientsSuite("sqlite");
else describe("host clients on SQLite storage", { skip: "LuaDBI's SQLite3 driver is not installed (Debian: lua-dbi-sqlite3)" }, () => {});
