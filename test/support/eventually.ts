/**
 * Waits for a condition by polling it until a deadline: the one way tests synchronise on
 * something they cannot await directly (a reconnection, a retry, a replica catching up).
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeout = 10_000, every = 25, what = 'condition' }: { timeout?: number; every?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
