#!/usr/bin/env bash
# Prints `export TMPDIR=DIR` for this node's NVMe instance store, so train's checkpoint scratch, Ray's
# temp folder and object spilling stay off the root volume (a 32B ZeRO-3 checkpoint is ~230 GB per
# p5 node); prints nothing on a node without one. ray_cluster.yaml's worker_setup_commands append
# the line to ~/overthink/env.sh. Idempotent; needs sudo (the cloud images' user has it).
set -euo pipefail
user=$(id -un)
if mountpoint -q /opt/dlami/nvme 2>/dev/null; then
  root=/opt/dlami/nvme  # the Deep Learning AMIs mount the instance store here themselves
elif mountpoint -q /mnt/scratch; then
  root=/mnt/scratch  # an earlier run of this script
else
  mapfile -t disks < <(lsblk -dpno NAME,MODEL | awk '/Instance Storage/ {print $1}')
  [ "${#disks[@]}" -gt 0 ] || exit 0
  device=${disks[0]}
  if [ "${#disks[@]}" -gt 1 ]; then  # one striped volume (RAID 0) over all of them: scratch, not storage
    device=/dev/md0
    sudo mdadm --create "$device" --run --level=0 --raid-devices="${#disks[@]}" "${disks[@]}" >&2
  fi
  sudo mkfs.ext4 -q -F "$device" >&2
  sudo mkdir -p /mnt/scratch
  sudo mount -o noatime "$device" /mnt/scratch
  root=/mnt/scratch
fi
sudo mkdir -p "$root/$user"
sudo chown "$user" "$root/$user"
echo "export TMPDIR=$root/$user"
