// A door contact on a schedule: the door opens at the top of every hour and closes after five
// minutes, deterministically in time, so every host and every run sees the same door.

import type { DeviceClock } from "./environment";
import type { DigitalInput } from "./pins";

export interface DoorSchedule {
  periodMs: number;
  openMs: number;
}

export const hourlyDoor: DoorSchedule = { periodMs: 3_600_000, openMs: 300_000 };

export class VirtualContact implements DigitalInput {
  constructor(
    readonly clock: DeviceClock,
    /** The pin level an open contact gives, as the entry's wiring makes it (the driver's position 1). */
    readonly openLevel: 0 | 1 = 1,
    readonly schedule: DoorSchedule = hourlyDoor,
  ) {}

  isOpen(timeMs: number): boolean {
    const { periodMs, openMs } = this.schedule;
    return ((timeMs % periodMs) + periodMs) % periodMs < openMs;
  }

  read(): number {
    return this.isOpen(this.clock.now()) ? this.openLevel : 1 - this.openLevel;
  }
}
