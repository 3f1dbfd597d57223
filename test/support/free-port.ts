import { createServer } from "node:net";

/**
 * A loopback port the OS just handed out, for a child process that must be told its port up front ($PORT,
 * redis-server --port). Anything that can listen on port 0 itself should do that instead.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
