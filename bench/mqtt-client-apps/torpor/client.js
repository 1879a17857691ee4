// torpor's client under the SDK client's module shape (a default export), over one session store
// that outlives each client object, as retained memory outlives a sleep.
import { MQTTClient } from "torpor/mqtt/client";
import { MemoryStore } from "torpor/mqtt/client-store";

const store = new MemoryStore();

export default class extends MQTTClient {
	constructor(options) {
		super({ ...options, store });
	}
}
