// The MQTT 3.1.1 / 5.0 codec: a pure serializer and a streaming parser, apart from any transport
// or session (the split FreeRTOS coreMQTT makes between core_mqtt_serializer.c and core_mqtt.c).
// Packets are the plain objects of packets.ts; everything the codec refuses, in either direction, is
// a ProtocolError whose message names the packet and the field.

export { encode, encodedLength, encodeInto } from "./encode";
export { PacketReader } from "./reader";
export { ProtocolError } from "./protocol-error";
export type { Packet, Version } from "./packets";
