// XS-side half of test/mqtt-xs.test.ts.
import { serveJson } from "../tools/xs/serve";
import { handle, type XsRequest } from "./mqtt-xs-ops";

serveJson<XsRequest>(handle);
