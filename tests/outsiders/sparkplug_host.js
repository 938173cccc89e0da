// A Sparkplug B host client built on Eclipse Tahu's JavaScript payload library (npm sparkplug-payload,
// generated from the specification's sparkplug_b.proto) and MQTT.js, not on Takt's payload code. It
// subscribes to spBv1.0/GROUP/# and keeps every message it decodes; one-line commands on stdin, one JSON
// answer each:
//   messages          {"messages": [{topic, type, node, device, seq, metrics: [{name, alias, type, value,
//                      timestamp, properties}]}, ...]} (every message since the start, in arrival order)
//   rebirth NODE      NCMD Node Control/Rebirth = true to NODE
//   write NODE DEVICE NAME_OR_#ALIAS TYPE VALUE
//                     DCMD to NODE/DEVICE: one metric by name (or by alias, written #7) of TYPE
// Arguments: URL GROUP
"use strict";
const readline = require("readline");
const mqtt = require("mqtt");
const sparkplug = require("sparkplug-payload").get("spBv1.0");

const [url, group] = process.argv.slice(2);
const received = [];

// protobufjs decodes 64-bit fields as Long objects: JSON carries them as numbers (within 2^53 here)
function plain(value) {
  if (value !== null && typeof value === "object" && typeof value.toNumber === "function") {
    return value.toNumber();
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object" && !Buffer.isBuffer(value)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

const client = mqtt.connect(url, { clientId: `outsider-host-${process.pid}`, clean: true });
client.on("connect", () => {
  client.subscribe(`spBv1.0/${group}/#`, { qos: 0 }, (err) => {
    console.log(JSON.stringify(err ? { error: String(err) } : { ready: true }));
  });
});
client.on("message", (topic, message) => {
  const [, , type, node, device] = topic.split("/");
  let payload;
  try {
    payload = plain(sparkplug.decodePayload(message));
  } catch (err) {
    received.push({ topic, type, node, device: device || null, error: String(err) });
    return;
  }
  received.push({ topic, type, node, device: device || null, seq: payload.seq ?? null,
                  timestamp: payload.timestamp ?? null, metrics: payload.metrics || [] });
});

function send(topic, metric) {
  const payload = sparkplug.encodePayload({ timestamp: Date.now(), metrics: [metric] });
  client.publish(topic, payload, { qos: 0 });
}

const commands = readline.createInterface({ input: process.stdin });
commands.on("line", (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  if (command === "messages") {
    console.log(JSON.stringify({ messages: received }));
  } else if (command === "rebirth") {
    send(`spBv1.0/${group}/NCMD/${args[0]}`, { name: "Node Control/Rebirth", type: "Boolean", value: true });
    console.log(JSON.stringify({ sent: "rebirth" }));
  } else if (command === "write") {
    const [node, device, key, type, raw] = args;
    const value = type === "Boolean" ? raw === "true" : type === "String" ? raw : Number(raw);
    const metric = key.startsWith("#") ? { alias: Number(key.slice(1)), type, value } : { name: key, type, value };
    send(`spBv1.0/${group}/DCMD/${node}/${device}`, metric);
    console.log(JSON.stringify({ sent: "write" }));
  } else {
    console.log(JSON.stringify({ error: `unknown command ${command}` }));
  }
});
commands.on("close", () => client.end(false, {}, () => process.exit(0)));
