// One error type for everything the codec refuses, in either direction, so that a session needs a
// single catch. `reasonCode` is the MQTT 5 reason code that fits (0x81 Malformed Packet, 0x82
// Protocol Error, 0x95 Packet too large, …): an MQTT 5 session can put it straight into the
// DISCONNECT it sends before closing; an MQTT 3.1.1 session just closes.

export class ProtocolError extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "ProtocolError";

  constructor(readonly reasonCode: number, message: string) {
    super(message);
  }
}
