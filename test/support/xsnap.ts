// The XS harness lives with the tools (`npm run power` measures the firmware on XS too).
export * from "../../tools/xs/worker";
