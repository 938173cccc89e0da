// A machine's logic, shared by the outsider PLC servers: a part counter that wraps at its width, a state
// in the PLC's own numbering (0 idle, 1 running, 2 fault), driven by one-line commands on stdin, each
// answered with one JSON line on stdout:
//   run N        make N parts, one every PERIOD ms, running meanwhile, then idle: {"made": total made}
//   state S      set the state (0, 1, 2)
//   set V        an operator sets the counter (a reset: set 0)
//   read         {"count", "state", "made"}
"use strict";
const readline = require("readline");

class Machine {
  constructor(width, start, periodMs, onChange) {
    this.mod = 2 ** width;
    this.count = start;
    this.state = 0;
    this.made = 0;
    this.periodMs = periodMs;
    this.onChange = onChange;
  }

  async run(n) {
    this.setState(1);
    for (let i = 0; i < n; i++) {
      await new Promise((resolve) => setTimeout(resolve, this.periodMs));
      this.count = (this.count + 1) % this.mod;
      this.made += 1;
      this.onChange(this);
    }
    this.setState(0);
    return { made: this.made };
  }

  setState(state) {
    this.state = state;
    this.onChange(this);
  }

  setCount(value) {
    this.count = value % this.mod;
    this.onChange(this);
  }
}

function serve(machine) {
  const lines = readline.createInterface({ input: process.stdin });
  const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  let queue = Promise.resolve();  // one command at a time, in order
  const handle = async (line) => {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === "run") reply(await machine.run(Number(arg)));
    else if (command === "state") { machine.setState(Number(arg)); reply({ state: machine.state }); }
    else if (command === "set") { machine.setCount(Number(arg)); reply({ count: machine.count }); }
    else if (command === "read") reply({ count: machine.count, state: machine.state, made: machine.made });
    else reply({ error: `unknown command ${line}` });
  };
  lines.on("line", (line) => { queue = queue.then(() => handle(line)); });
  lines.on("close", () => queue.then(() => process.exit(0)));
}

module.exports = { Machine, serve };
