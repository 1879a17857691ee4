// A bounded wait for something a test needs to see happen (a message, a row, a process's word):
// it polls, and past the bound it fails naming what it waited for and the state it saw.

export async function until(what: string, test: () => Promise<boolean> | boolean, ms = 20_000, state: () => Promise<string> | string = () => ""): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${await state()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
