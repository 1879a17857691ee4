// What an image offered by `update offer` is: the Node host's image says its version and board in
// its header line; an ESP32 firmware (mcconfig's xs_esp32.bin, an ESP-IDF app image) says neither
// in a form the node reports — its esp_app_desc version is whatever ESP-IDF's build derived, where
// the node reports package.json's — so the operator gives that version with `--version`.

import { readImageHeader, type ImageHeader } from "../../hosts/node/firmware";
import { isSemver } from "../../src/update/semver";

/** ESP-IDF's app image: the image header's magic byte, and esp_app_desc_t's magic word where the
 *  first segment starts (components/bootloader_support/include/esp_app_format.h). */
const ESP_IMAGE_MAGIC = 0xe9;
const APP_DESC_OFFSET = 32;
const APP_DESC_MAGIC = 0xabcd5432;

export function isEspAppImage(image: Buffer): boolean {
  return image.length >= APP_DESC_OFFSET + 4 && image[0] === ESP_IMAGE_MAGIC && image.readUInt32LE(APP_DESC_OFFSET) === APP_DESC_MAGIC;
}

/** The version and board an offer of `image` names, or an error saying what is missing. */
export function imageIdentity(image: Buffer, version: string | undefined): ImageHeader {
  if (isEspAppImage(image)) {
    if (version === undefined) throw new Error("an ESP32 firmware (ESP-IDF app image) needs --version: the package.json version it was built from");
    if (!isSemver(version)) throw new Error(`--version must be semver (1.2.3 or 1.2.3-rc.1), got "${version}"`);
    return { version, board: "esp32" };
  }
  const { header } = readImageHeader(image);
  if (version !== undefined && version !== header.version) throw new Error(`--version ${version}, but the image's header says ${header.version}`);
  return header;
}
