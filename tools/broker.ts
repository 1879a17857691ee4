// The embedded broker behind `npm start`: aedes on 127.0.0.1, on a free port. aedes speaks MQTT
// 3.1.1 only, which is why torpor's default mqttVersion is 4.

import * as net from "node:net";

export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(port = 0): Promise<EmbeddedBroker> {
  const { Aedes } = await import("aedes");
  const aedes = await Aedes.createBroker();
  // aedes runs timers of its own (its heartbeat) from creation: it is closed on every path, a
  // failed listen too, or it keeps the process alive.
  const closeAedes = () => new Promise<void>((resolve) => aedes.close(() => resolve()));
  const server = net.createServer(aedes.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  } catch (e) {
    await closeAedes();
    throw e;
  }
  const address = server.address() as net.AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    close: async () => {
      await closeAedes();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
