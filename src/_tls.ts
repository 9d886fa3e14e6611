/**
 * Internal: TLS settings, checked at the public boundary and loaded
 * (certificate files read) before a connection or a server uses them. Not
 * part of the public API.
 *
 * @module
 */

import { describe } from "./_checks.ts";
import { net, toOSError } from "./_host/net.ts";
import { ioFuture } from "./_io.ts";
import type { EventLoop } from "./events.ts";
import type { TlsOptions } from "./transports.ts";

/** TLS settings with the files read: what the host's TLS functions take. */
export interface LoadedTls {
  caCerts?: string[];
  cert?: string;
  key?: string;
  alpnProtocols?: string[];
}

const STRING_KEYS = ["caFile", "cert", "key", "certFile", "keyFile"] as const;
const LIST_KEYS = ["caCerts", "alpnProtocols"] as const;

/**
 * Checks an `ssl` option: `true`, or a {@linkcode TlsOptions} object;
 * `false`, `null` and `undefined` mean no TLS.
 *
 * @returns The settings, or `null` for no TLS.
 * @throws {TypeError} If it is anything else, or a field has the wrong type.
 */
export function checkTls(ssl: unknown, action: string): true | TlsOptions | null {
  if (ssl === undefined || ssl === null || ssl === false) return null;
  if (ssl === true) return true;
  if (typeof ssl !== "object" || Array.isArray(ssl)) {
    throw new TypeError(
      `Cannot ${action}: expected ssl as true or TLS settings ({ caFile, cert, key, ... }), got ${
        describe(ssl)
      }`,
    );
  }
  const options = ssl as Record<string, unknown>;
  for (const key of STRING_KEYS) {
    if (options[key] !== undefined && typeof options[key] !== "string") {
      throw new TypeError(
        `Cannot ${action}: expected ssl.${key} as a string, got ${describe(options[key])}`,
      );
    }
  }
  for (const key of LIST_KEYS) {
    const value = options[key];
    if (
      value !== undefined &&
      !(Array.isArray(value) && value.every((item) => typeof item === "string"))
    ) {
      throw new TypeError(
        `Cannot ${action}: expected ssl.${key} as an array of strings, got ${describe(value)}`,
      );
    }
  }
  return ssl as TlsOptions;
}

/** Reads a PEM file for `action`, as a future. */
function* readPem(loop: EventLoop, path: string): Generator<unknown, string, unknown> {
  return yield* ioFuture(loop, net.readTextFile(path), {
    mapError: (error) => toOSError(error, `read ${path}`),
  });
}

/** A client's settings: the trusted roots (`caCerts` and `caFile`), ALPN. */
export function* loadClientTls(
  loop: EventLoop,
  ssl: true | TlsOptions,
): Generator<unknown, LoadedTls, unknown> {
  if (ssl === true) return {};
  const caCerts = [...(ssl.caCerts ?? [])];
  if (ssl.caFile !== undefined) caCerts.push(yield* readPem(loop, ssl.caFile));
  const loaded: LoadedTls = {};
  if (caCerts.length !== 0) loaded.caCerts = caCerts;
  if (ssl.alpnProtocols !== undefined) loaded.alpnProtocols = [...ssl.alpnProtocols];
  return loaded;
}

/**
 * Checks a server's settings: it needs its certificate and key.
 *
 * @throws {TypeError} If either is missing.
 */
export function checkServerTls(ssl: true | TlsOptions, action: string): TlsOptions {
  const options = ssl === true ? {} : ssl;
  if (
    (options.cert === undefined && options.certFile === undefined) ||
    (options.key === undefined && options.keyFile === undefined && options.certFile === undefined)
  ) {
    throw new TypeError(
      `Cannot ${action}: a TLS server needs its certificate and key: pass ssl: { cert, key } (PEM text) or { certFile, keyFile }`,
    );
  }
  return options;
}

/**
 * A server's settings, loaded: its certificate chain and key (text, or read
 * from `certFile`/`keyFile`; a key may sit in the certificate file), ALPN.
 */
export function* loadServerTls(
  loop: EventLoop,
  options: TlsOptions,
): Generator<unknown, LoadedTls & { cert: string; key: string }, unknown> {
  const cert = options.cert ?? (yield* readPem(loop, options.certFile!));
  const key = options.key ??
    (options.keyFile !== undefined ? yield* readPem(loop, options.keyFile) : cert);
  const loaded: LoadedTls & { cert: string; key: string } = { cert, key };
  if (options.alpnProtocols !== undefined) loaded.alpnProtocols = [...options.alpnProtocols];
  return loaded;
}
