// An OPC UA server on node-opcua (not asyncua): a Siemens-style data block "DB_Machine" with quoted
// string node ids in its own namespace, registered after two others so its index is not 1.
// Usage: node opcua_server.js PORT PKI_DIR [START_COUNT]; prints {"ready": port} when serving.
"use strict";
const { OPCUAServer, OPCUACertificateManager, Variant, DataType, SecurityPolicy, MessageSecurityMode } =
  require("node-opcua");
const { Machine, serve } = require("./machine");

async function main() {
  const port = Number(process.argv[2]);
  const pki = process.argv[3];
  const start = Number(process.argv[4] || 0);
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    resourcePath: "/",
    securityPolicies: [SecurityPolicy.None],
    securityModes: [MessageSecurityMode.None],
    allowAnonymous: true,
    serverCertificateManager: new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true }),
    buildInfo: { productName: "outsider-plc", manufacturerName: "Takt tests" },
  });
  await server.initialize();
  const space = server.engine.addressSpace;
  space.registerNamespace("urn:outsider:vendor-a");
  space.registerNamespace("urn:outsider:vendor-b");
  const ns = space.registerNamespace("urn:outsider:plc");
  const db = ns.addObject({ organizedBy: space.rootFolder.objects, browseName: "DB_Machine", nodeId: 's="DB_Machine"' });
  const partCount = ns.addVariable({
    componentOf: db, browseName: "PartCount", nodeId: 's="DB_Machine"."PartCount"', dataType: "UInt32",
    value: { dataType: DataType.UInt32, value: start },
  });
  const state = ns.addVariable({
    componentOf: db, browseName: "State", nodeId: 's="DB_Machine"."State"', dataType: "Int16",
    value: { dataType: DataType.Int16, value: 0 },
  });
  const machine = new Machine(32, start, 20, (m) => {
    partCount.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: m.count }));
    state.setValueFromSource(new Variant({ dataType: DataType.Int16, value: m.state }));
  });
  await server.start();
  process.stdout.write(JSON.stringify({ ready: port }) + "\n");
  serve(machine);
}

main().catch((err) => { console.error(err); process.exit(1); });
