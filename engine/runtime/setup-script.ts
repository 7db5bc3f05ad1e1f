/**
 * The host-side shell script that runs as PID 1 of the new namespaces, before the command: in one `mount -a`
 * it mounts everything listed in the run's fstab, in order (the overlay rootfs unless in copy mode, then /proc,
 * /dev and its device binds, devpts, /dev/shm, /sys when allowed, the step's /etc files), sets the hostname,
 * creates a missing working directory, reports `ready` on fd 3 and replaces itself with the command ("$@").
 * An overlay rootfs that did not mount (its /proc mount point, which every stack has, is not there) is
 * reported as `overlay-refused`, and the caller copies instead.
 *
 * It runs the host's /bin/sh and mount(8) with the host's root still visible; every path it touches inside the
 * rootfs was resolved by the caller without following symlinks out of it. Its own errors go to a log file so
 * that they never mix with the command's output. Each process costs milliseconds on the path of every RUN,
 * hence one `mount -a` rather than a mount per entry, and the hostname written by the shell where it can be.
 */
export const setupScript = String.raw`
exec 4>&2 2>"$STRATA_FILES/setup.log"
set -eu
# The overlay's lower folders are names relative to the layers folder.
cd "$STRATA_LAYERS"
if ! mount -a -T "$STRATA_FILES/fstab"; then
  if [ "$STRATA_MODE" = overlay ] && [ ! -d "$STRATA_ROOT/proc" ]; then
    echo overlay-refused >&3
    exit 97
  fi
  exit 1
fi
cd /
# sethostname(2) needs CAP_SYS_ADMIN over the UTS namespace. As root, writing /proc/sys/kernel/hostname (for
# the namespace of the writer) does it; in a user namespace that file stays owned by the host's root, and
# hostname(1) makes the call.
if [ "$STRATA_SETHOSTNAME" = proc ]; then
  printf '%s' "$STRATA_HOSTNAME" > /proc/sys/kernel/hostname
else
  hostname "$STRATA_HOSTNAME"
fi
if [ -n "$STRATA_MKDIR" ]; then mkdir -p "$STRATA_ROOT$STRATA_MKDIR"; fi
echo ready >&3
exec 2>&4 3>&- 4>&-
exec "$@"
`;
