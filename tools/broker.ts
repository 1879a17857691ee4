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
  const server = net.createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
