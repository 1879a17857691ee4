// What a Node host image exports: the firmware's wake cycle, in both power modes. `update image`
// bundles this entry (and through it all of src/) behind the image's header line.

export { run, runConnected } from "../../src/app";
