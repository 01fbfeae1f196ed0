// A seccomp user-notification agent for the tests, as a real one (seccomp-agent, sysbox) works:
// it listens on a unix socket, takes the notification fd and the container process state the
// runtime sends with it (SCM_RIGHTS), then answers the calls the filter hands it. Raw libc
// through bun:ffi, with poll timeouts so a runtime that never calls fails the test instead of
// hanging it.
import { dlopen, FFIType, ptr } from "bun:ffi";

const { symbols: c } = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  accept4: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;

function waitReadable(fd: number, ms: number): void {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(1 /* POLLIN */, 4);
  if (c.poll(ptr(pfd), 1, ms) <= 0) throw new Error(`seccomp agent: nothing on fd ${fd} within ${ms} ms`);
}

export class SeccompAgent {
  private readonly sock: number;
  constructor(path: string) {
    this.sock = c.socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | 0o2000000 /* CLOEXEC */, 0);
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(1, 0);
    addr.write(path, 2);
    if (this.sock < 0 || c.bind(this.sock, ptr(addr), 110) < 0 || c.listen(this.sock, 4) < 0) throw new Error(`seccomp agent: cannot listen on ${path}`);
  }

  /** The runtime's connection: the container process state and the notification fd. */
  accept(ms = 20_000): { state: any; fd: number } {
    waitReadable(this.sock, ms);
    const conn = c.accept4(this.sock, null, null, 0o2000000);
    if (conn < 0) throw new Error("seccomp agent: accept failed");
    waitReadable(conn, ms);
    const data = Buffer.alloc(65536);
    const iov = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length)]);
    const cmsg = Buffer.alloc(24);
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(BigInt(ptr(iov)), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(BigInt(ptr(cmsg)), 32);
    msg.writeBigUInt64LE(24n, 40);
    const n = Number(c.recvmsg(conn, ptr(msg), 0x40000000 /* MSG_CMSG_CLOEXEC */));
    c.close(conn);
    if (n <= 0 || cmsg.readInt32LE(8) !== 1 || cmsg.readInt32LE(12) !== 1) throw new Error("seccomp agent: no fd came with the message");
    return { state: JSON.parse(data.subarray(0, n).toString("utf8")), fd: cmsg.readInt32LE(16) };
  }

  /** One notified call: its syscall number and caller; answered with `-errno` (0: succeed with `val`). */
  answer(fd: number, reply: (call: { nr: number; pid: number }) => { error: number; val?: number }, ms = 20_000): { nr: number; pid: number } {
    waitReadable(fd, ms);
    const notif = Buffer.alloc(80);
    if (c.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, ptr(notif)) < 0) throw new Error("seccomp agent: NOTIF_RECV failed");
    const call = { nr: notif.readInt32LE(16), pid: notif.readUInt32LE(8) };
    const r = reply(call);
    const resp = Buffer.alloc(24);
    resp.writeBigUInt64LE(notif.readBigUInt64LE(0), 0);
    resp.writeBigInt64LE(BigInt(r.val ?? 0), 8);
    resp.writeInt32LE(r.error, 16);
    if (c.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, ptr(resp)) < 0) throw new Error("seccomp agent: NOTIF_SEND failed");
    return call;
  }

  close(...fds: number[]): void {
    for (const fd of [this.sock, ...fds]) c.close(fd);
  }
}
