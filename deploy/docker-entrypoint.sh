#!/bin/sh
# The container's entry point (under tini): check the mounts, then exec the command, so that the
# scheduler is the process that receives SIGTERM. See docs/deploy.md.
set -eu

cd /app

if [ ! -f config.yaml ]; then
    echo "error: /app/config.yaml is missing. Mount it: -v \"\$PWD/config.yaml:/app/config.yaml:ro\"" >&2
    exit 2
fi
for dir in var data outbox; do
    if [ ! -w "$dir" ]; then
        echo "error: /app/$dir is not writable by uid $(id -u). Mount a volume it owns, or chown it" >&2
        exit 2
    fi
done

# Run folders hold logs and outputs that may be sensitive: keep new files private to the user.
umask 0027

if [ "${1:-}" = "schedule" ] || [ "${1:-}" = "run" ] || [ "${1:-}" = "status" ]; then
    # `docker run opskit run weekly-ops-review` is short for `... python runner.py run ...`
    set -- python runner.py "$@"
fi
exec "$@"
