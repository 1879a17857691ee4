// Declarations the Moddable SDK 8.2 ships and npm's @moddable/typings 5.6.0 lacks, copied in shape
// from the SDK ($MODDABLE/xs/includes/xs.d.ts, $MODDABLE/typings/embedded_network/interface/wifi.d.ts)
// so that `npx tsc -p tsconfig.json` checks firmware code as mcconfig will. Only tsconfig.json reads
// this file: under mcconfig the SDK's own declarations are in scope and these would collide.
// npm's own Resource typings, which tsconfig.json's list leaves out (hosts/moddable/sdk-tls.ts reads
// certificates with it; mcconfig maps "Resource" to the SDK's):
/// <reference path="../node_modules/@moddable/typings/Resource.d.ts" />

/** XS: the host function named `name` (C, `void name(xsMachine *the)`), for `native(name).call(this, …)`. */
declare function native(name: string): (...args: any[]) => any;
/** XS: a base class whose instances carry host data freed by the C destructor `name`. */
declare function Native(name: string): new (...args: any[]) => any;

declare module "embedded:network/interface/wifi" {
  import type { PortSpecifier } from "embedded:io/_common";

  export type WiFiChangedProperty = "connection" | "address";

  export interface WiFiConstructorOptions {
    port?: PortSpecifier;
    onChanged?: (property: WiFiChangedProperty) => void;
  }

  export interface WiFiScanResult {
    SSID: string;
    channel: number;
    RSSI: number;
    BSSID?: string;
  }

  export interface WiFiScanOptions {
    onFound?: (result: WiFiScanResult) => void;
    onComplete?: () => void;
  }

  export interface WiFiConnectOptions {
    SSID: string;
    password?: string;
  }

  export interface WiFiStaticAddress {
    address: string;
    mask: string;
    gateway: string;
  }

  export interface WiFiConfigureOptions {
    hostname?: string;
    static?: WiFiStaticAddress | false;
  }

  class WiFi {
    constructor(options: WiFiConstructorOptions);

    close(): void;
    scan(options: WiFiScanOptions): void;
    connect(options: WiFiConnectOptions): void;
    disconnect(): void;
    configure(options: WiFiConfigureOptions): void;

    readonly connection: number;
    readonly address: string | undefined;
    readonly MAC: string | undefined;
    readonly SSID: string | undefined;
    readonly RSSI: number | undefined;
  }

  export default WiFi;
}

// $MODDABLE/typings/crypt.d.ts (SDK 8.2): the SDK's native digests.
declare module "crypt" {
  type DigestType = "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";
  export class Digest {
    constructor(type: DigestType);
    write(message: string | ArrayBuffer): void;
    close(): ArrayBuffer;
    reset(): void;
    get blockSize(): number;
    get outputSize(): number;
    update(message: string | ArrayBuffer): void;
  }
}
