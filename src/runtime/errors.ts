// The runtime CLI's one error: printed the way runc prints (a level=error line on stderr and
// in --log), exit status 1, which is what Podman, containerd and CRI-O parse.
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}
