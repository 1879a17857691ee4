// A host with nothing but retained memory (and, if given, flash) and a log: all RetainedStore
// uses, so a test can commit and load the node's state exactly as a wake does.

import type { Flash, Host, WakeCause } from "../../src/host";

export function storeHost(bytes: Uint8Array, wakeCause: WakeCause, log: (line: string) => void, flash?: Flash): Host {
  const unused = () => {
    throw new Error("not used by the store");
  };
  return {
    name: "test",
    id: "test",
    io: { I2C: unused as unknown as Host["io"]["I2C"] },
    i2c: { data: 0, clock: 0, hz: 100_000 },
    network: { up: unused, resolve: unused, down: unused, TCP: unused as unknown as Host["network"]["TCP"] },
    clock: { now: () => 1_700_000_000_000, ticks: () => 0 },
    timer: { set: unused, clear: unused },
    retained: { bytes, commit: () => {} },
    ...(flash ? { flash } : {}),
    wakeCause,
    log,
    sleep: unused,
    nap: unused,
  };
}
