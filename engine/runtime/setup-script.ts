/**
 * The host-side shell script that runs as PID 1 of the new namespaces, before the command: it mounts the
 * rootfs (overlayfs, unless in copy mode), then everything listed in the run's fstab in one `mount -a` (/proc,
 * /dev and its device binds, devpts, /dev/shm, /sys when allowed, the step's /etc files), sets the hostname,
 * creates a missing working directory, reports `ready` on fd 3 and replaces itself with the command ("$@").
 *
 * It runs the host's /bin/sh and mount(8) with the host's root still visible; every path it touches inside the
 * rootfs was resolved by the caller without following symlinks out of it. Its own errors go to a log file so
 * that they never mix with the command's output. Each process costs milliseconds on the path of every RUN,
 * hence one `mount -a` rather than a mount per entry.
 */
export const setupScript = String.raw`
exec 4>&2 2>"$STRATA_FILES/setup.log"
set -eu
if [ "$STRATA_MODE" = overlay ]; then
  cd "$STRATA_LAYERS"
  if ! mount -t overlay overlay -o "lowerdir=$STRATA_LOWER,upperdir=$STRATA_UPPER,workdir=$STRATA_OVLWORK$STRATA_OVLOPTS" "$STRATA_ROOT"; then
    echo overlay-refused >&3
    exit 97
  fi
  cd /
fi
mount -a -T "$STRATA_FILES/fstab"
# sethostname(2) needs CAP_SYS_ADMIN over the UTS namespace, which a user namespace gives; writing
# /proc/sys/kernel/hostname would not, since that file stays owned by the host's root.
hostname "$STRATA_HOSTNAME"
if [ -n "$STRATA_MKDIR" ]; then mkdir -p "$STRATA_ROOT$STRATA_MKDIR"; fi
echo ready >&3
exec 2>&4 3>&- 4>&-
exec "$@"
`;
