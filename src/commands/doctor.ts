import type { Command } from "commander";
import type { Deps } from "./deps.js";
export function register(_program: Command, _deps: Deps): void {}
