// A quiet node:test reporter for `npm test`: a dot per passing test, the full report of each failure,
// each skip or todo with its reason, and the runner's own summary at the end (the same "ℹ tests N … ℹ fail N" lines the
// spec reporter ends with).

import type { TestEvent } from "node:test/reporters";

async function* quietReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  let column = 0;
  const newline = () => {
    const s = column ? "\n" : "";
    column = 0;
    return s;
  };
  for await (const event of source) {
    switch (event.type) {
      case "test:pass":
        if (event.data.skip !== undefined) {
          yield `${newline()}- skipped: ${event.data.name}${typeof event.data.skip === "string" ? ` (${event.data.skip})` : ""}\n`;
        } else if (event.data.details.type !== "suite") {
          column++;
          yield column % 80 === 0 ? ".\n" : ".";
        }
        break;
      case "test:fail": {
        // A known gap marked todo: named, not counted as a failure (the summary counts it as todo).
        if (event.data.todo !== undefined) {
          yield `${newline()}~ todo: ${event.data.name}${typeof event.data.todo === "string" ? ` (${event.data.todo})` : ""}
`;
          break;
        }
        const error = event.data.details.error as Error & { cause?: unknown; failureType?: string };
        // A suite fails when its tests did (already shown); a failed hook is news of its own.
        if (event.data.details.type === "suite" && error.failureType === "subtestsFailed") break;
        const cause = error.cause instanceof Error ? error.cause : error;
        yield `${newline()}✖ ${event.data.name} (${event.data.file ?? "?"})\n${String(cause.stack ?? cause.message).replace(/^/gm, "    ")}\n`;
        break;
      }
      case "test:diagnostic":
        if (event.data.nesting === 0) yield `${newline()}ℹ ${event.data.message}\n`;
        break;
      case "test:stderr":
      case "test:stdout":
        break;
    }
  }
  yield newline();
}

// node:test loads a reporter as the module itself (CommonJS here), not its default export.
export = quietReporter;
