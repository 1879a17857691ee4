// `npm run bench`: the reading buffer, the payload formats, the power budget, the XS cost of a wake
// and (with $MODDABLE) the XS heap a wake needs under the boards' limits, as one JSON document
// (docs/power.md tabulates it). Each part also runs alone: node dist/bench/<part>.js.

import { bufferBench } from "./buffer";
import { formatsBench } from "./formats";
import { memoryBench } from "./memory";
import { powerBench } from "./power";
import { xsBench } from "./xs";

async function main(): Promise<void> {
  const report = { buffer: bufferBench(), formats: await formatsBench(), power: await powerBench(), xs: await xsBench(), memory: await memoryBench() };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

void main();
