#!/bin/sh
# asnode.sh NAME CMD...: run CMD with host name NAME in its own UTS namespace, so that
# ranks launched through it look like another machine to parc_mpi (needs root/unshare).
name=$1; shift
exec unshare --uts sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
