// A Modbus TCP server on modbus-serial (not pymodbus): a Mitsubishi/Delta-style PLC with a 32-bit part
// counter in holding 0-1, low word first (CDAB), and its state in holding 2; any other address answers
// exception 02. Usage: node modbus_server.js PORT [START_COUNT] [WIDTH]; prints {"ready": port}.
"use strict";
const ModbusRTU = require("modbus-serial");
const { Machine, serve } = require("./machine");

const port = Number(process.argv[2]);
const start = Number(process.argv[3] || 0);
const width = Number(process.argv[4] || 32);
const regs = [0, 0, 0];
const machine = new Machine(width, start, 20, (m) => {
  if (width === 16) { regs[0] = m.count; regs[1] = 0; }
  else { regs[0] = m.count % 65536; regs[1] = Math.floor(m.count / 65536); }  // low word first
  regs[2] = m.state;
});
machine.onChange(machine);

const illegal = () => { const err = new Error("illegal data address"); err.modbusErrorCode = 2; throw err; };
const vector = {
  getHoldingRegister: (address) => (address >= 0 && address < regs.length ? regs[address] : illegal()),
  getInputRegister: () => illegal(),
  getCoil: () => illegal(),
  getDiscreteInput: () => illegal(),
  setRegister: () => illegal(),
  setCoil: () => illegal(),
};
const server = new ModbusRTU.ServerTCP(vector, { host: "127.0.0.1", port, unitID: 1 });
server.on("initialized", () => {
  process.stdout.write(JSON.stringify({ ready: port }) + "\n");
  serve(machine);
});
server.on("socketError", (err) => console.error("socket error", err.message));
