// `npm start --replay CSV` checks the whole recording before any node wakes: a malformed one is one
// line naming the row and the column, and exit code 2 (not wake processes dying and restarting
// forever); no cell is ever replayed as a value it does not hold. The recordings in ../shared/data
// replay as they are.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { readRecording } from "../hosts/node/recording";

const start = path.join(__dirname, "..", "tools", "start.js");
const wake = path.join(__dirname, "..", "hosts", "node", "wake.js");
const shared = path.join(__dirname, "..", "..", "..", "shared", "data");
const recordings = ["candanedo-office-occupancy-1min.csv", "tablog-dataset1-tph-2s.csv"].map((f) => path.join(shared, f));
const noRecordings = recordings.every((f) => fs.existsSync(f)) ? undefined : `the recordings are not in ${shared}`;

function csv(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-replay-"));
  const file = path.join(dir, "recording.csv");
  fs.writeFileSync(file, text);
  return file;
}

const office = "date,Temperature,Humidity,Light\n";
const bad: [string, string, RegExp][] = [
  ["a short row", `${office}2015-02-11 14:48:00,21.76,31.1,437\n2015-02-11 14:49:00,21.79\n`, /: row 3: 2 cells for 4 columns$/],
  ["an empty cell", `${office}2015-02-11 14:48:00,,31.1,437\n2015-02-11 14:49:00,21.79,31,437\n`, /: row 2, column "Temperature": "" is not a number$/],
  ["a cell that is not a number", `${office}2015-02-11 14:48:00,21.76,31.1,437\n2015-02-11 14:49:00,21.79,3l,437\n`, /: row 3, column "Humidity": "3l" is not a number$/],
  ["a value no sensor measures", `${office}2015-02-11 14:48:00,21.76,131.1,437\n2015-02-11 14:49:00,21.79,31,437\n`, /: row 2, column "Humidity": 131\.1 is outside 0\.\.100 %RH$/],
  ["a date that does not exist", `${office}2015-02-30 14:48:00,21.76,31.1,437\n2015-03-01 14:49:00,21.79,31,437\n`, /: row 2, column "date": "2015-02-30 14:48:00" is not a YYYY-MM-DD HH:MM:SS time$/],
  ["rows out of order", `${office}2015-02-11 14:48:00,21.76,31.1,437\n2015-02-11 14:49:00,21.79,31,437\n2015-02-11 14:49:00,21.8,31,437\n`, /: row 4, column "date": "2015-02-11 14:49:00" is not after the row before it$/],
  ["a bad nanosecond timestamp", "timestamp,pressure,temperature1,humidity\n1611232920078560473,979.43,18.37,32.92\n16112329220662990x1,979.42,18.36,32.93\n", /: row 3, column "timestamp": "16112329220662990x1" is not nanoseconds since 1970 as a whole number$/],
  ["no time column", "when,Temperature\n1,20\n2,21\n", /: header: no "date" or "timestamp" column$/],
  ["nothing to replay", "date,Light\n2015-02-11 14:48:00,437\n2015-02-11 14:49:00,437\n", /: header: no temperature, humidity or pressure column to replay$/],
  ["a header only", office, /: needs at least two rows after the header, has 0$/],
];

describe("--replay", () => {
  for (const [what, text, message] of bad) {
    it(`refuses ${what} before any node wakes: one line naming it, exit code 2`, () => {
      const file = csv(text);
      try {
        // --cycles 1: a runner that replayed the file anyway would end, not hang.
        const r = spawnSync(process.execPath, [start, "--replay", file, "--cycles", "1", "--time-scale", "600"], { encoding: "utf8", timeout: 30_000 });
        assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
        assert.equal(r.stderr.split("\n").filter((l) => l).length, 1, r.stderr);
        assert.match(r.stderr.trim(), new RegExp(`^torpor: --replay ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}${message.source}`));
        assert.doesNotMatch(r.stdout, /\[node-1\]/, "no node woke");
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
    });
  }

  it("is refused by a wake on its own too, with exit code 2", () => {
    const file = csv(bad[0]![1]);
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-replay-state-"));
    try {
      const r = spawnSync(process.execPath, [wake, "--state", state, "--replay", file], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr.trim(), /^wake: --replay .*: row 3: 2 cells for 4 columns$/);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      fs.rmSync(state, { recursive: true, force: true });
    }
  });

  it("replays the shared recordings as they are", { skip: noRecordings }, () => {
    const office = readRecording(recordings[0]!);
    // The first row of the office recording, played at the start of its period.
    const first = office.at(Date.UTC(2015, 1, 11, 14, 48));
    assert.equal(first.temperature, 21.76);
    assert.equal(first.humidity, 31.1333333333333);
    const tablog = readRecording(recordings[1]!);
    const t0 = Number(1611232920078560473n / 1_000_000n);
    assert.deepEqual([tablog.at(t0).temperature, tablog.at(t0).humidity, tablog.at(t0).pressure], [18.37, 32.92, 97943]);
  });

  it("drives a node from a shared recording end to end", { skip: noRecordings }, () => {
    const r = spawnSync(process.execPath, [start, "--replay", recordings[0]!, "--cycles", "1", "--time-scale", "600"], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    // Every value the node published comes from the recording's range (19.5–24.39 °C, 21.865–39.5 %RH).
    const temperatures = [...r.stdout.matchAll(/sht3x\/temperature +(-?[\d.]+) Cel/g)].map((m) => Number(m[1]));
    const humidities = [...r.stdout.matchAll(/sht3x\/humidity +([\d.]+) %RH/g)].map((m) => Number(m[1]));
    assert.ok(temperatures.length > 0 && humidities.length > 0, r.stdout);
    for (const t of temperatures) assert.ok(t >= 19.4 && t <= 24.5, `temperature ${t}`);
    for (const h of humidities) assert.ok(h >= 21.8 && h <= 39.6, `humidity ${h}`);
  });
});
