// `update offer` for an ESP32 firmware: mcconfig's xs_esp32.bin is an ESP-IDF app image with no
// torpor header, so the offer takes its version from --version and names the board "esp32" (the
// ESP32 host's `board`), which an ESP32 node accepts and a Node host refuses.

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { describe, it } from "node:test";
import { imageText } from "../hosts/node/firmware";
import { offerMessages } from "../tools/update/offer";

/** The first bytes of an ESP-IDF app image: header magic 0xE9, then esp_app_desc_t's magic at 32. */
function espAppImage(size = 5000): Buffer {
  const image = crypto.randomBytes(size);
  image[0] = 0xe9;
  image.writeUInt32LE(0xabcd5432, 32);
  return image;
}

const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const options = { prefix: "torpor", nodes: [], chunk: 2048, battery: 0, downgrade: false };

describe("update offer for an ESP32 firmware", () => {
  it("offers an ESP-IDF app image at --version for board esp32, whole, in chunks", () => {
    const image = espAppImage();
    const { offer, messages } = offerMessages(image, privateKey, { ...options, version: "0.2.0" });
    assert.equal(offer.board, "esp32");
    assert.equal(offer.version, "0.2.0");
    assert.equal(offer.size, image.length);
    assert.equal(offer.sha256, crypto.createHash("sha256").update(image).digest("hex"));
    assert.equal(messages.length, Math.ceil(image.length / 2048) + 1);
  });

  it("refuses an ESP32 firmware without --version, or with one that is not semver", () => {
    assert.throws(() => offerMessages(espAppImage(), privateKey, options), /needs --version/);
    assert.throws(() => offerMessages(espAppImage(), privateKey, { ...options, version: "two" }), /semver/);
  });

  it("a Node image keeps its header's version: a different --version is refused", () => {
    const image = Buffer.from(imageText({ version: "0.3.0", board: "node" }, "module.exports = {};"));
    assert.equal(offerMessages(image, privateKey, options).offer.version, "0.3.0");
    assert.throws(() => offerMessages(image, privateKey, { ...options, version: "0.4.0" }), /header says 0\.3\.0/);
  });
});
