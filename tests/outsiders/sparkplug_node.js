// A Sparkplug B edge node built on Eclipse Tahu's JavaScript client (npm sparkplug-client), not on Takt's
// payload code: devices with a part counter (alias 1, UInt32) and a state (alias 2, Int32, Takt's codes),
// births with names and aliases, data by alias only. One-line commands on stdin, one JSON answer each:
//   births            NBIRTH and a DBIRTH per device (also sent on connect and on a rebirth NCMD)
//   run DEV N         N parts on DEV, one DDATA each, running meanwhile, then idle: {"made": {...}}
//   set DEV V         an operator sets DEV's counter (a reset: set DEV 0)
//   skip              the next message's seq jumps by one (a lost message)
//   ddeath DEV        DEV's DDEATH
//   read              {"counts", "made", "rebirths"}
//   stop              NDEATH with this session's bdSeq, then exit
// Arguments: URL GROUP NODE BDSEQ DEV=COUNT...
"use strict";
const readline = require("readline");
const sparkplug = require("sparkplug-client");

const [url, groupId, edgeNode, bdSeq, ...devs] = process.argv.slice(2);
const counts = {};
const made = {};
const states = {};
for (const d of devs) {
  const [name, count] = d.split("=");
  counts[name] = Number(count);
  made[name] = 0;
  states[name] = 0;
}
let rebirths = 0;
const client = sparkplug.newClient({
  serverUrl: url, username: "", password: "", groupId, edgeNode, clientId: `outsider-${edgeNode}-${bdSeq}`,
  publishDeath: true,
});
client.bdSeq = Number(bdSeq);  // the session number a restarted node counts up (its birth and death carry it)
const now = () => Date.now();

function births() {
  client.publishNodeBirth({ timestamp: now(), metrics: [
    { name: "Node Control/Rebirth", type: "Boolean", value: false },
  ] });
  for (const dev of Object.keys(counts)) {
    client.publishDeviceBirth(dev, { timestamp: now(), metrics: [
      { name: "good_count", alias: 1, type: "UInt32", value: counts[dev] },
      { name: "state", alias: 2, type: "Int32", value: states[dev] },
    ] });
  }
}

function data(dev, metrics) {
  client.publishDeviceData(dev, { timestamp: now(), metrics });
}

function setState(dev, state) {
  states[dev] = state;
  data(dev, [{ alias: 2, type: "Int32", value: state }]);
}

client.on("birth", births);
client.on("ncmd", (payload) => {
  const rebirth = (payload.metrics || []).find((m) => m.name === "Node Control/Rebirth");
  if (rebirth && rebirth.value) {
    rebirths += 1;
    births();
  }
});

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const handlers = {
  births: async () => { births(); return { births: true }; },
  run: async (dev, n) => {
    setState(dev, 2);
    for (let i = 0; i < Number(n); i++) {
      await sleep(5);
      counts[dev] += 1;
      made[dev] += 1;
      data(dev, [{ alias: 1, type: "UInt32", value: counts[dev] }]);
    }
    setState(dev, 0);
    return { made };
  },
  set: async (dev, v) => { counts[dev] = Number(v); data(dev, [{ alias: 1, type: "UInt32", value: counts[dev] }]); return { counts }; },
  skip: async () => { client.incrementSeqNum(); return { skipped: true }; },
  ddeath: async (dev) => { client.publishDeviceDeath(dev, { timestamp: now(), metrics: [] }); return { dead: dev }; },
  read: async () => ({ counts, made, rebirths }),
  stop: async () => { client.stop(); await sleep(200); return { stopped: true }; },
};

let started = false;
client.on("connect", () => {
  if (started) return;  // a reconnect: the commands are read already
  started = true;
  reply({ ready: true });
  const lines = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();  // one command at a time, in order
  lines.on("line", (line) => {
    queue = queue.then(async () => {
      const [command, ...args] = line.trim().split(/\s+/);
      const handler = handlers[command];
      reply(handler ? await handler(...args) : { error: `unknown command ${line}` });
      if (command === "stop") process.exit(0);
    });
  });
});
