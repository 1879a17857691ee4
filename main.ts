// Moddable entry point (mcconfig builds this for ESP32 and for the desktop simulator). The
// platform's "host" module — hosts/esp32/host or hosts/sim/host, chosen by manifest.json
// "platforms" — builds the Host; the firmware in src/ takes it from there: one wake, then deep sleep.
// On a device every wake is a boot that runs this module; in the simulator the host's sleep ends
// by calling wake() again.

import config from "mc/config";
import makeHost, { checkHostConfig, configKeys } from "host";
import { run, runConnected } from "./src/app";
import { ConfigError, parseConfig, type Config } from "./src/config";

/** How long a node with a config it cannot use sleeps before it says so again. */
const CONFIG_ERROR_SLEEP_MS = 3_600_000;

/**
 * mcconfig owns the config key `format` — the display's pixel format: it sets "RGB565LE" on the
 * desktop and refuses any value it does not know — so Moddable builds name the payload format
 * `payloadFormat`, and the SDK's `format` is dropped. (The spread also copies the config out of
 * ROM, where mcconfig deep-freezes it.)
 */
function firmwareConfig(): Record<string, unknown> {
  const { format: _pixels, ...rest } = config;
  return rest;
}

function wake(): void {
  const raw = firmwareConfig();
  let parsed: Config | undefined;
  let problem = "";
  try {
    parsed = parseConfig(raw, configKeys);
    checkHostConfig(raw, parsed);
  } catch (e) {
    parsed = undefined;
    problem = e instanceof ConfigError ? e.message : `config: ${describe(e)}`;
  }
  let host: ReturnType<typeof makeHost>;
  try {
    host = makeHost({ raw, config: parsed, wake });
  } catch (e) {
    // No host, so no sleep: only the simulator can get here (a bad `sim` setting), and it idles.
    trace(`torpor: cannot start: ${describe(e)}\n`);
    return;
  }
  if (!parsed) {
    // A bad config cannot be fixed by retrying: name the key, then sleep long.
    host.log(problem);
    host.sleep(CONFIG_ERROR_SLEEP_MS);
    return;
  }
  if (parsed.mode === "always-connected") runConnected(host, parsed).catch((e: unknown) => host.log(`stopped: ${describe(e)}`));
  else void run(host, parsed);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

wake();
