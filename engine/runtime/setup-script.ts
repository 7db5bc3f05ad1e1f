/**
 * The host-side shell script that runs as PID 1 of the new namespaces, before the command: it mounts the
 * rootfs, /proc, a minimal /dev, /sys (when allowed) and the step's /etc files, sets the hostname, creates the
 * working directory, reports `ready` on fd 3 and replaces itself with the command ("$@").
 *
 * It runs the host's /bin/sh and mount(8) with the host's root still visible; every path it touches inside the
 * rootfs was resolved by the caller without following symlinks out of it. Its own errors go to a log file so
 * that they never mix with the command's output.
 */
export const setupScript = String.raw`
exec 4>&2 2>"$STRATA_FILES/setup.log"
set -eu
R="$STRATA_ROOT"
if [ "$STRATA_MODE" = overlay ]; then
  cd "$STRATA_LAYERS"
  if ! mount -t overlay overlay -o "lowerdir=$STRATA_LOWER,upperdir=$STRATA_UPPER,workdir=$STRATA_OVLWORK$STRATA_OVLOPTS" "$R"; then
    echo overlay-refused >&3
    exit 97
  fi
  cd /
fi
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$R/dev"
for node in null zero full random urandom tty; do
  : > "$R/dev/$node"
  mount --bind "/dev/$node" "$R/dev/$node"
done
mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts" || :
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm "$R/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$R/dev/mqueue" || :
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
ln -s /proc/kcore "$R/dev/core"
if [ "$STRATA_SYS" = 1 ]; then
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys" || :
fi
if [ "$STRATA_ETC" = 1 ]; then
  for file in hosts resolv.conf hostname; do
    mount --bind "$STRATA_FILES/$file" "$R/etc/$file"
  done
fi
# sethostname(2) needs CAP_SYS_ADMIN over the UTS namespace, which a user namespace gives; writing
# /proc/sys/kernel/hostname would not, since that file stays owned by the host's root.
hostname "$STRATA_HOSTNAME" 2>/dev/null || printf '%s' "$STRATA_HOSTNAME" > /proc/sys/kernel/hostname
mkdir -p "$R$STRATA_CWD"
echo ready >&3
exec 2>&4 3>&- 4>&-
exec "$@"
`;
