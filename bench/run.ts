// `npm run bench`: the reading buffer, the payload formats, the power budget, the XS cost of a wake,
// (with $MODDABLE) the XS heap a wake needs under the boards' limits, and a firmware update's cost,
// as one JSON document (docs/power.md tabulates it). Each part also runs alone: node dist/bench/<part>.js.

import { bufferBench } from "./buffer";
import { formatsBench } from "./formats";
import { memoryBench } from "./memory";
import { powerBench } from "./power";
import { updateBench } from "./update";
import { xsBench } from "./xs";

async function main(): Promise<void> {
  const report = { buffer: bufferBench(), formats: await formatsBench(), power: await powerBench(), xs: await xsBench(), memory: await memoryBench(), update: await updateBench() };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

void main();
