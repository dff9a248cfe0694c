// The least any Node program can do for `camctl user clients <jid>` over the admin socket: connect,
// send the bytes camctl sent for it (recorded by bench/startup.mjs through a proxy), read until the
// request's result, print the reply's size. No arguments to check, no XML parser, no table. The
// start-up section times it against `node -e 0` beside camctl, so camctl's CPU figure is read
// against what the request itself costs a Node process.
"use strict";
const net = require("node:net");
const fs = require("node:fs");

const [socketPath, requestFile] = process.argv.slice(2);
const request = fs.readFileSync(requestFile);
const socket = net.connect(socketPath);
let reply = "";
socket.setEncoding("latin1");
socket.on("data", (data) => {
  reply += data;
  if (reply.includes("</repl-result>")) {
    process.stdout.write(`${reply.length} bytes\n`);
    socket.end();
  }
});
socket.on("error", (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
socket.write(request);
