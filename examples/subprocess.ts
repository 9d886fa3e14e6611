/**
 * Seed 003, "TCP，UDP,SSL，子进程管道": the asyncio docs' subprocess examples,
 * running a shell command and reporting its exit status and output, then
 * reading one line a child prints.
 *
 * Seed 003 lists what asyncio offers: subprocess pipes among them. These
 * are the docs' "Subprocesses" examples.
 *
 * `run(cmd)` is the docs' `run('ls /zzz')`, with `cat /zzz` instead of `ls
 * /zzz` (GNU and BSD `ls` word the error and pick the exit status
 * differently; both `cat`s say the same thing). `getDate()` is the docs'
 * `get_date()`: there the child is `python -c "...datetime.now()"`; here it
 * is `deno eval`, and it prints a fixed date (the Unix epoch), not the
 * current one, so that the output is the same on every run.
 *
 * @module
 */
import { createSubprocessExec, createSubprocessShell, PIPE, run } from "../mod.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function runCommand(cmd: string) {
  const proc = await createSubprocessShell(cmd, { stdout: PIPE, stderr: PIPE });

  const [stdout, stderr] = await proc.communicate();

  console.log(`['${cmd}' exited with ${proc.returncode}]`);
  if (stdout!.length > 0) console.log(`[stdout]\n${decode(stdout!)}`);
  if (stderr!.length > 0) console.log(`[stderr]\n${decode(stderr!)}`);
}

async function getDate() {
  const code = "console.log(new Date(0).toISOString())";

  // Create the subprocess; redirect the standard output into a pipe.
  const proc = await createSubprocessExec(Deno.execPath(), "eval", code, { stdout: PIPE });

  // Read one line of output.
  const data = await proc.stdout!.readline();
  const line = decode(data).trimEnd();

  // Wait for the subprocess exit.
  await proc.wait();
  return line;
}

await run(() => runCommand("cat /zzz"));
await run(() => runCommand("echo hello"));

const date = await run(getDate);
console.log(`Date the child printed: ${date} (a fixed one: the epoch)`);
