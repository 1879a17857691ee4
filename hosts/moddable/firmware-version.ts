// The running firmware's version on the Moddable hosts: package.json's, as the Node host's built-in
// firmware reads it (builtinVersion). The manifest maps package.json itself as the module
// "torpor/package" (xsc compiles a .json module to its default export), so the version has one
// definition and a release changes it in one place.

import pkg from "torpor/package";

export const firmwareVersion: string = pkg.version;
