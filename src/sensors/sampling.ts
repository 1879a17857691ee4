// Samples every configured sensor once: open, configure, sample, close (ECMA-419 §13), one at a
// time so that the bus and the heap hold one driver at once. A sensor that fails or does not answer
// in time yields no values — never invented ones — and an error line; the others go on. The time
// it all takes is measured: awake time is battery.

import type { Config } from "../config";
import type { Channel } from "./channel";
import { sensorType, valueOf, type SensorHost } from "./registry";
import { quantise } from "./resolution";
import { SensorError, type Sample, type Sensor, type SensorFault } from "./sensor";

/** Longest a sensor may take to deliver a sample before it counts as timed out. */
const SAMPLE_TIMEOUT_MS = 500;

export interface SensorFailure {
  /** Index of the sensor in config.sensors. */
  sensor: number;
  fault: SensorFault;
  message: string;
}

export interface SampledValues {
  /** Per channel, the quantised value or null. */
  values: (number | null)[];
  /** One entry per sensor that failed this wake. */
  errors: SensorFailure[];
  /** Milliseconds from opening the first sensor to closing the last (host.clock.ticks()). */
  durationMs: number;
}

export async function sampleSensors(host: SensorHost, config: Config, channels: readonly Channel[]): Promise<SampledValues> {
  const started = host.clock.ticks();
  const samples = new Map<string, Sample>();
  const errors: SensorFailure[] = [];
  for (const [index, sensor] of config.sensors.entries()) {
    try {
      samples.set(sensor.id, await sampleOne(host, () => {
        const driver = sensorType(sensor).create(sensor, host);
        try {
          driver.configure(sensor.options);
        } catch (e) {
          driver.close();
          throw e;
        }
        return driver;
      }));
    } catch (e) {
      const error = e instanceof SensorError ? e : new SensorError("io", e instanceof Error ? e.message : String(e));
      errors.push({ sensor: index, fault: error.fault, message: error.message });
    }
  }
  const values = channels.map((channel) => {
    const sample = samples.get(channel.sensor);
    const value = sample && valueOf(sample, channel);
    return value === undefined ? null : quantise(value, channel.resolution);
  });
  return { values, errors, durationMs: host.clock.ticks() - started };
}

function sampleOne(host: SensorHost, open: () => Sensor): Promise<Sample> {
  return new Promise((resolve, reject) => {
    let driver: Sensor;
    try {
      driver = open();
    } catch (e) {
      reject(e instanceof SensorError ? e : new SensorError("absent", e instanceof Error ? e.message : String(e)));
      return;
    }
    let done = false;
    const finish = (error: Error | undefined, sample?: Sample) => {
      if (done) return;
      done = true;
      host.timer.clear(timeout);
      try {
        driver.close();
      } catch {
        // Closing a connection to a device that vanished can fail; the sample's outcome stands.
      }
      if (error) reject(error);
      else resolve(sample!);
    };
    const timeout = host.timer.set(() => finish(new SensorError("timeout", `no sample within ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
    try {
      driver.sample((error, sample) => finish(error, sample));
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
