// Recipe for minid's built-in busybox image: Debian's static busybox, one hardlink per applet
// in /bin (as the official busybox image has them), minimal /etc, and the empty mount points.
// Writes images/build/busybox.tar.gz, which build.ts embeds into dist/minid.
import { $ } from "bun";
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

const OUT_DIR = resolve(import.meta.dir, "..", "build");
export const OUT = join(OUT_DIR, "busybox.tar.gz");
/** What the image's config says about it (embedded too): its fixed creation date, busybox's version. */
export const META = join(OUT_DIR, "busybox.json");

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;

/** A statically linked busybox: the installed busybox-static, else one fetched with apt. */
async function findBusybox(work: string): Promise<string> {
  const installed = "/bin/busybox";
  if (existsSync(installed) && (await isStatic(installed))) return installed;
  console.error("images: /bin/busybox is missing or not static; fetching Debian's busybox-static");
  const dl = join(work, "deb");
  mkdirSync(dl);
  await $`apt-get download busybox-static`.cwd(dl).quiet();
  const deb = (await $`ls ${dl}`.text()).trim().split("\n").find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error("apt-get download busybox-static produced no .deb");
  await $`dpkg-deb -x ${join(dl, deb)} ${join(dl, "x")}`.quiet();
  return join(dl, "x", "bin", "busybox");
}

async function isStatic(path: string): Promise<boolean> {
  const r = await $`ldd ${path}`.nothrow().quiet();
  return r.exitCode !== 0 || r.stdout.toString().includes("not a dynamic executable");
}

export async function buildBusyboxImage(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "minid-busybox-"));
  try {
    const bb = await findBusybox(work);
    const root = join(work, "rootfs");
    for (const d of ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr/sbin", "var/spool/mail", "var/www"]) {
      mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
    }
    chmodSync(join(root, "tmp"), 0o1777);
    chmodSync(join(root, "root"), 0o700);
    copyFileSync(bb, join(root, "bin", "busybox"));
    chmodSync(join(root, "bin", "busybox"), 0o755);
    const applets = (await $`${bb} --list`.text()).split("\n").filter((a) => a && a !== "busybox");
    for (const a of applets) linkSync(join(root, "bin", "busybox"), join(root, "bin", a));
    writeFileSync(join(root, "etc", "passwd"), PASSWD);
    writeFileSync(join(root, "etc", "group"), GROUP);
    writeFileSync(join(root, "etc", "shadow"), "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
    mkdirSync(OUT_DIR, { recursive: true });
    const tmp = `${OUT}.tmp`;
    // Deterministic, so the image id is the same for every build from one busybox: sorted
    // names, fixed owner, no host user names, and every mtime (and the image's creation date)
    // the busybox binary's own, which the Debian package fixes (its build date).
    const epoch = Math.floor(statSync(bb).mtimeMs / 1000);
    const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
    const version = /BusyBox v[^\s]+/.exec(await $`${bb}`.nothrow().text())?.[0] ?? "BusyBox";
    await $`tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@${epoch} --format=pax --pax-option=delete=atime,delete=ctime -C ${root} -cf - . | gzip -n -9 > ${tmp}`.quiet();
    writeFileSync(`${META}.tmp`, JSON.stringify({ created, version }) + "\n");
    await $`mv ${tmp} ${OUT}`;
    await $`mv ${META}.tmp ${META}`;
    console.error(`images: wrote ${OUT} (${(statSync(OUT).size / 1e6).toFixed(1)} MB, ${applets.length} applets)`);
    return OUT;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await buildBusyboxImage();
