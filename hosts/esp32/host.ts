// The module named "host" in ESP32 builds. XS resolves a relative import against the importing
// module's name, not its file, and this module's name is "host": the implementation lives under a
// name that mirrors its path, so that its own relative imports resolve.
export { default, configKeys, checkHostConfig } from "hosts/esp32/esp32host";
