#!/bin/sh
# One-shot set-up of the bundled MinIO (docker-compose.yml's minio-init service, image minio/mc):
#   1. refuse to go on while a secret is unset or still the example's CHANGE-ME,
#   2. create the bucket, with a lifecycle rule that deletes objects after BUCKET_EXPIRY_DAYS
#      (a backstop: StemDeck deletes expired jobs' files itself),
#   3. create the services' own MinIO user, allowed to use that bucket and nothing else.
# Safe to run again: every step leaves an existing bucket, rule, policy and user as wanted.
set -eu

fail() {
  echo "minio-init: $*" >&2
  exit 1
}

for name in MINIO_ROOT_PASSWORD REDIS_PASSWORD STEMDECK_S3_SECRET_KEY STEMDECK_CALLBACK_SECRET; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | *CHANGE-ME* | *change-me*)
      fail "$name is unset or still the example's CHANGE-ME: run 'sh deploy/make-env.sh' (or edit deploy/.env), then start again" ;;
  esac
done
: "${MINIO_ROOT_USER:?}" "${STEMDECK_S3_ACCESS_KEY:?}" "${STEMDECK_S3_BUCKET:?}" "${BUCKET_EXPIRY_DAYS:?}"
case "$BUCKET_EXPIRY_DAYS" in
  "" | *[!0-9]* | 0) fail "BUCKET_EXPIRY_DAYS must be a whole number of days above 0, not '$BUCKET_EXPIRY_DAYS'" ;;
esac
[ "${#STEMDECK_S3_SECRET_KEY}" -ge 8 ] || fail "STEMDECK_S3_SECRET_KEY needs at least 8 characters"
[ "$STEMDECK_S3_ACCESS_KEY" != "$MINIO_ROOT_USER" ] \
  || fail "STEMDECK_S3_ACCESS_KEY must differ from MINIO_ROOT_USER (the services get their own user)"

bucket="$STEMDECK_S3_BUCKET"
user="$STEMDECK_S3_ACCESS_KEY"
work="${TMPDIR:-/tmp}/stemdeck-minio-init.$$"
mkdir -p "$work"

mc alias set stemdeck "${MINIO_ENDPOINT:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "stemdeck/$bucket"

printf '{"Rules":[{"ID":"stemdeck-expiry","Status":"Enabled","Filter":{"Prefix":""},"Expiration":{"Days":%s}}]}\n' \
  "$BUCKET_EXPIRY_DAYS" >"$work/lifecycle.json"
mc ilm import "stemdeck/$bucket" <"$work/lifecycle.json"

printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}\n' \
  "$bucket" "$bucket" >"$work/policy.json"
mc admin policy create stemdeck stemdeck-bucket "$work/policy.json"
mc admin user add stemdeck "$user" "$STEMDECK_S3_SECRET_KEY"
if ! out=$(mc admin policy attach stemdeck stemdeck-bucket --user "$user" 2>&1); then
  case "$out" in
    *already*) ;;  # attached on an earlier run
    *) fail "could not give $user the bucket policy: $out" ;;
  esac
fi
rm -rf "$work"
echo "minio-init: bucket '$bucket' ready (objects expire after $BUCKET_EXPIRY_DAYS days); user '$user' may use it"
