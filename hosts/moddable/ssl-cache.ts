// The module named "ssl/cache" in Moddable builds, in place of the SDK's one-entry RAM cache. XS
// resolves a relative import against the importing module's name, not its file, and this module's
// name is "ssl/cache": the implementation lives under a name that mirrors its path.
export { default } from "hosts/moddable/tls-cache";
