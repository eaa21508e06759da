#!/bin/sh
# Write deploy/.env from deploy/.env.example, with a fresh random value (48 hex digits) in place
# of every CHANGE-ME. Never overwrites: delete deploy/.env first to start over (a new Redis or
# MinIO password does not change one stored in existing volumes).
#   sh deploy/make-env.sh [TARGET]        TARGET defaults to deploy/.env
set -eu
here=$(cd "$(dirname "$0")" && pwd)
example="$here/.env.example"
target="${1:-$here/.env}"
if [ -e "$target" ]; then
  echo "make-env: $target already exists; leaving it as it is" >&2
  exit 1
fi

random_hex() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

tmp="$target.tmp.$$"
umask 077
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    \#*) printf '%s\n' "$line" ;;
    *CHANGE-ME*)
      before=${line%%CHANGE-ME*}
      after=${line#*CHANGE-ME}
      printf '%s%s%s\n' "$before" "$(random_hex)" "$after" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$example" >"$tmp"
mv "$tmp" "$target"
echo "make-env: wrote $target (secrets generated; review the other settings in it)"
