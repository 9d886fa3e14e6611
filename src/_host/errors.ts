/**
 * Internal: the host's own error classes, so that an error a worker throws
 * comes back as the same class: Deno's `Deno.errors.NotFound`,
 * `PermissionDenied`, ... Another runtime has its own (or none).
 *
 * @module
 */

/**
 * The host's error class named `name`, or `undefined`.
 *
 * @param name The error's name (`"NotFound"`).
 */
export function hostErrorClass(name: string): unknown {
  const deno = (globalThis as { Deno?: { errors?: Record<string, unknown> } }).Deno;
  const errors = deno?.errors;
  return errors !== undefined && Object.hasOwn(errors, name) ? errors[name] : undefined;
}
