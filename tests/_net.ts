/**
 * Helpers shared by the network tests: text, ports, echo handlers, servers
 * that misbehave on purpose (a peer that resets), and self-made TLS
 * certificates.
 *
 * @module
 */
import net from "node:net";

export { dec, echoLines, echoLinesAsync, enc, portOf } from "./_echo.ts";

/** A port nothing listens on (it was free a moment ago). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A server (of Node's kind, which can reset a connection) that accepts
 * connections and resets each after `ms` milliseconds, or after it read
 * something if `afterData`.
 */
export async function resettingServer(
  ms: number,
  afterData = false,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const reset = () => setTimeout(() => socket.resetAndDestroy(), ms);
    if (afterData) socket.once("data", reset);
    else reset();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A listener that accepts connections and never answers (closed by `close`). */
export function silentServer(): { port: number; accepted: Promise<Deno.Conn>; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted,
    close: () => listener.close(),
  };
}

/** Self-made TLS material: a CA, and a leaf for localhost and 127.0.0.1 it signed. */
export interface Certificates {
  dir: string;
  caFile: string;
  ca: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/**
 * Makes a CA and a leaf certificate with `openssl` in a temporary folder.
 * Deno's TLS wants the leaf to carry a subjectAltName and
 * `basicConstraints=CA:FALSE`.
 */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await Deno.makeTempDir({ prefix: "coro-tls-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=coro test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "leaf.pem",
    "-days",
    "2",
    "-extfile",
    "leaf.ext",
  ]);
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    certFile: `${dir}/leaf.pem`,
    keyFile: `${dir}/leaf.key`,
    cert: await Deno.readTextFile(`${dir}/leaf.pem`),
    key: await Deno.readTextFile(`${dir}/leaf.key`),
  };
}

/** Whether a program is on the PATH (tests that need it are skipped otherwise). */
export function hasProgram(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Waits for `task` (from an async function), returning its error's name or "ok". */
export async function settled(task: PromiseLike<unknown>): Promise<string> {
  try {
    await task;
    return "ok";
  } catch (error) {
    return (error as Error).name;
  }
}
