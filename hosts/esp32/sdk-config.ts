// Which keys of mc/config the ESP32 host lets through parseConfig unchecked: the ones the SDK and the
// board target put there (`moddable_two`'s Screen and Touch, `wt32_eth01`'s ethernet, the SNTP
// server, TLS options, …), whatever they are — and none that the app's manifest or the command line
// adds, so a misspelt `batchsize=12` is still an error.
//
// mcconfig builds mc/config by merging every manifest's `config` in the order it read them, the
// included ones before the one that includes them, then the command line's, then its own `format`
// and `rotation` when no manifest set them (tools/mcmanifest.js, tools/mcconfig.js filterConfig and
// ConfigFile); a key keeps the place where it first appeared, and XS keeps that order. The SDK's and
// the board's manifests come in through the app manifest's first includes; hosts/esp32/manifest.json
// comes after them, and its config key BOARD_KEYS_END marks where they stop.

/** The key hosts/esp32/manifest.json puts in mc/config after every SDK and board key. */
export const BOARD_KEYS_END = "torporBoardKeysEnd";

/** What mcconfig itself adds after every manifest's keys: the display's pixel format and rotation. */
const MCCONFIG_KEYS = ["format", "rotation"];

/** Keys the ESP32 host reads itself, beside src/config's. */
const HOST_KEYS = ["staticIP"];

/**
 * The keys parseConfig is to accept besides its own, for this mc/config: every key before
 * BOARD_KEYS_END (and that key), mcconfig's own and the host's. Without the marker, only the last two.
 */
export function acceptedKeys(config: object): readonly string[] {
  const keys = Object.keys(config);
  return [...keys.slice(0, keys.indexOf(BOARD_KEYS_END) + 1), ...MCCONFIG_KEYS, ...HOST_KEYS];
}
