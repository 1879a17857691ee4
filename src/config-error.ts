// The one error a bad config value gets, naming the key: its own module so that the config parser
// and the sensor registry (which checks sensor entries) can both throw it without importing each other.

export class ConfigError extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "ConfigError";

  constructor(readonly key: string, message: string) {
    super(`config ${key}: ${message}`);
  }
}
