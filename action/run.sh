#!/bin/sh
# The steps of the oci-stamp GitHub Action (../action.yml). POSIX sh, so that it runs the
# same under bash 3.2 (macOS), Git for Windows' bash and dash.
#
#   run.sh plan      decide where the binary comes from; outputs mode, version, target, dir,
#                    bin and key (the cache key of dir)
#   run.sh install   put the binary at bin unless it is already there (cache hit): download
#                    the release archive and check its sha256, or build from this source
#   run.sh run       collect with `--format github` into $GITHUB_OUTPUT, write the bake file,
#                    stamp the `annotate` targets
#
# install and run take the plan step's outputs as PLAN_MODE, PLAN_VERSION, PLAN_TARGET,
# PLAN_REPOSITORY, PLAN_DIR and PLAN_BIN (action.yml passes them), so the plan (the source
# hash above all) is made once per action run; without PLAN_BIN they plan again (run.sh run
# outside the action).
#
# On a cache hit this script is most of the action's own time, so the common path forks
# little: one random token a step (not one per output), paths converted without a subshell
# off Windows, no helper process where a shell expansion does the same.
#
# Inputs arrive as INPUT_<NAME> variables from the `env:` blocks of action.yml and are only
# ever expanded inside double quotes: no input is pasted into a script or re-parsed by a
# shell. Whatever the binary or an input prints to the log runs between
# `::stop-commands::TOKEN` and `::TOKEN::`, so a value cannot issue a workflow command.
#
# Also read: GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_REPOSITORY, RUNNER_OS, RUNNER_ARCH,
# RUNNER_TEMP, RUNNER_TOOL_CACHE; OCI_STAMP_RELEASE_URL overrides the download base URL
# (default https://github.com/OWNER/REPO/releases/download).

set -eu

# --- helpers ------------------------------------------------------------------------------

cr='' # a carriage return, made when an input list is read


# A workflow command's data: `%`, CR and LF escaped the way the runner unescapes them.
escape_data() {
    printf '%s' "$1" | awk 'BEGIN { ORS = "" } {
        gsub(/%/, "%25"); gsub(/\r/, "%0D")
        if (NR > 1) printf "%%0A"
        print
    }'
}

error() { printf '::error title=oci-stamp::%s\n' "$(escape_data "$*")"; }
notice() { printf '::notice title=oci-stamp::%s\n' "$(escape_data "$*")"; }
die() {
    error "$*"
    exit 2
}

# token: 32 random hex digits, made once a step (new_token) and used for every
# `::stop-commands::` and output delimiter of the step; no value the step prints or writes
# comes from a process that could see it.
token=
new_token() {
    _hex=$(od -An -N16 -tx1 /dev/urandom) || die "cannot read /dev/urandom"
    token=
    for _b in $_hex; do token=$token$_b; done
    [ "${#token}" = 32 ] || die "cannot read 16 random bytes from /dev/urandom"
}

# Prints a file to the log with workflow commands switched off.
show_untrusted() {
    [ -n "$token" ] || new_token
    printf '::stop-commands::%s\n' "$token"
    cat "$@"
    printf '::%s::\n' "$token"
}

# oci-stamp's standard error as annotations: each `error…`/`warning…` line with the lines
# after it that start no other (a usage error's hints, a value's further lines) is one
# annotation, its text escaped so that it is data. Lines before the first are shown with
# workflow commands switched off.
report() {
    [ -s "$1" ] || return 0
    _kind='' _msg=''
    : >"$1.other"
    while IFS= read -r _line || [ -n "$_line" ]; do
        case $_line in
        error* | warning*)
            flush_report
            case $_line in error*) _kind=error ;; *) _kind=warning ;; esac
            _msg=$_line
            ;;
        *)
            if [ -n "$_kind" ]; then
                _msg="$_msg
$_line"
            else
                printf '%s\n' "$_line" >>"$1.other"
            fi
            ;;
        esac
    done <"$1"
    flush_report
    if [ -s "$1.other" ]; then show_untrusted "$1.other"; fi
}

flush_report() {
    if [ -n "$_kind" ]; then
        printf '::%s title=oci-stamp::%s\n' "$_kind" "$(escape_data "$_msg")"
    fi
    _kind=
}

# set_output NAME VALUE: appends to $GITHUB_OUTPUT with a delimiter the value does not hold.
set_output() {
    [ -n "${GITHUB_OUTPUT:-}" ] || die "GITHUB_OUTPUT is not set: run this as a step of a workflow"
    [ -n "$token" ] || new_token
    while :; do
        _delim=ghadelimiter_$token
        case $2 in *"$_delim"*) new_token ;; *) break ;; esac
    done
    printf '%s<<%s\n%s\n%s\n' "$1" "$_delim" "$2" "$_delim" >>"$GITHUB_OUTPUT"
}

# Sets _path to a path as the shell here uses it (on Windows, `D:\a\_temp` → `/d/a/_temp`).
# They set a variable rather than print, so that off Windows no subshell is forked.
shell_path() {
    if [ "${RUNNER_OS:-}" = Windows ] && command -v cygpath >/dev/null 2>&1; then
        _path=$(cygpath -u "$1")
    else
        _path=$1
    fi
}

# Sets _path to a path as other programs take it (on Windows, `/d/a/_temp` → `D:\a\_temp`).
native_path() {
    if [ "${RUNNER_OS:-}" = Windows ] && command -v cygpath >/dev/null 2>&1; then
        _path=$(cygpath -w "$1")
    else
        _path=$1
    fi
}

# The runner's temporary directory as the shell uses it, in $temp.
temp_dir() {
    shell_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
    temp=$_path
}

# The sha256 of a file, or of stdin without an argument, in lower-case hex.
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        _sum=$(sha256sum "$@") # lower-case already
        printf '%s\n' "${_sum%% *}"
        return
    elif command -v shasum >/dev/null 2>&1; then
        _sum=$(shasum -a 256 "$@")
    elif command -v openssl >/dev/null 2>&1; then
        _sum=$(openssl dgst -sha256 -r "$@")
    else
        die "no sha256sum, shasum or openssl to check the download with"
    fi
    printf '%s\n' "${_sum%% *}" | tr 'A-F' 'a-f'
}

# true/false inputs (as YAML and the runner spell them); empty is false.
is_true() {
    case $2 in
    true | True | TRUE) return 0 ;;
    '' | false | False | FALSE) return 1 ;;
    *) die "input \`$1\`: expected true or false, got \`$2\`" ;;
    esac
}

# --- plan ---------------------------------------------------------------------------------

# Sets `target`: the Rust target of the release archive for this runner, or nothing.
release_target() {
    target=
    _os=${RUNNER_OS:-$(uname -s)}
    _arch=${RUNNER_ARCH:-$(uname -m)}
    case $_os/$_arch in
    Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
    macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
    Windows/X64) target=x86_64-pc-windows-msvc ;;
    Windows/ARM64) target=aarch64-pc-windows-msvc ;;
    esac
}

# The version in the action's Cargo.toml ([package] version).
source_version() {
    awk '/^\[/ { p = ($0 == "[package]") }
        p && /^version[ \t]*=/ { sub(/^version[ \t]*=[ \t]*"/, ""); sub(/".*/, ""); print; exit }' \
        "$action_path/Cargo.toml"
}

# Adds the regular files under a directory to `_list`, one a line, as paths relative to
# `$2` (no `find`: Windows has another program by that name; no subshell a directory).
list_files() {
    for _f in "$1"/* "$1"/.[!.]*; do
        if [ -d "$_f" ]; then
            list_files "$_f" "$2"
        elif [ -f "$_f" ]; then
            _list=$_list${_f#"$2"/}'
'
        fi
    done
}

# The sha256 over the files the binary is built from: of `SHA256 PATH` lines, one a file
# sorted by path. With sha256sum, one process hashes every file (a process a file was most
# of the action's own time on a cache hit), and the shell reads its output whole and
# rewrites the lines in memory (`read` from a pipe takes a byte a system call); the lines
# are the same either way.
source_hash() {
    _list=
    for _f in Cargo.toml Cargo.lock build.rs rust-toolchain rust-toolchain.toml; do
        if [ -f "$action_path/$_f" ]; then _list=$_list$_f'
'; fi
    done
    list_files "$action_path/src" "$action_path"
    _files=$(LC_ALL=C sort <<FILES
${_list%?}
FILES
)
    case $_files in
    *'\'*) _plain=false ;; # sha256sum escapes such names: hash them one by one
    *) _plain=true ;;
    esac
    if [ "$_plain" = true ] && command -v sha256sum >/dev/null 2>&1; then
        _ifs=$IFS
        IFS='
'
        set -f
        # Split on line breaks only, with globbing off.
        set -- $_files
        _sums=$(cd "$action_path" && sha256sum -- "$@") || die "could not hash the action's source"
        _lines=
        for _line in $_sums; do
            # `HASH  PATH` (or `HASH *PATH`) → `HASH PATH`.
            _rest=${_line#* }
            _lines=$_lines${_line%% *}' '${_rest#?}'
'
        done
        set +f
        IFS=$_ifs
        _sum=$(sha256sum <<LINES
${_lines%?}
LINES
)
        printf '%s\n' "${_sum%% *}"
    else
        printf '%s\n' "$_files" | while IFS= read -r f; do
            printf '%s %s\n' "$(sha256 "$action_path/$f")" "$f"
        done | sha256
    fi
}

# Sets action_path, the action's directory as the shell uses it.
action_dir() {
    shell_path "${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
    action_path=$_path
}

# Sets mode (binary, release or source), version, target, repository, dir, bin and key.
plan() {
    action_dir
    exe=
    if [ "${RUNNER_OS:-}" = Windows ]; then exe=.exe; fi
    version='' target='' repository='' key='' dir='' note=''

    binary=${INPUT_BINARY:-}
    if [ -n "$binary" ]; then
        mode=binary
        shell_path "$binary"
        bin=$_path
        case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
        [ -f "$bin" ] || die "input \`binary\`: no file \`$binary\`"
        return
    fi

    # The ref the action was used at: runners check a remote action out at
    # _actions/OWNER/REPO/REF (github.action_ref is not reliable in composite actions).
    ref=''
    # shellcheck disable=SC1003 # a backslash, to slashes
    path=$action_path
    case $path in *'\'*) path=$(printf '%s' "$path" | tr '\\' /) ;; esac
    case $path in
    */_actions/*/*/*)
        rest=${path##*/_actions/}
        repository=${rest%%/*}/
        rest=${rest#*/}
        repository=$repository${rest%%/*}
        ref=${rest#*/}
        ;;
    *) repository=${GITHUB_REPOSITORY:-} ;;
    esac

    release_target
    requested=${INPUT_VERSION:-auto}
    case $requested in
    source)
        mode=source
        ;;
    auto)
        mode=source
        crate=$(source_version)
        case $ref in v[0-9]*)
            if printf '%s\n' "$ref" | grep -Eq '^v[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.-]+)?$'; then
                case $crate in
                "${ref#v}" | "${ref#v}".*)
                    if [ -n "$target" ]; then
                        mode=release version=$crate
                    else
                        note="no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}: building from source"
                    fi
                    ;;
                *) note="action ref \`$ref\` is not version $crate of its Cargo.toml: building from source" ;;
                esac
            fi
            ;;
        esac
        ;;
    *)
        version=${requested#v}
        printf '%s\n' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$' ||
            die "input \`version\`: expected a release such as 1.2.3, \`source\` or \`auto\`, got \`$requested\`"
        [ -n "$target" ] || die "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; use version: source"
        [ -n "$repository" ] || die "cannot tell which repository's releases to download (GITHUB_REPOSITORY is not set)"
        mode=release
        ;;
    esac

    shell_path "${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}"
    cache_root=$_path/oci-stamp
    if [ "$mode" = release ]; then
        key=oci-stamp-$version-$target
        dir=$cache_root/$version/$target
    else
        hash=$(source_hash)
        key=oci-stamp-source-$hash-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}
        dir=$cache_root/source-${hash%"${hash#????????????????}"}/${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}
    fi
    bin=$dir/bin/oci-stamp$exe
}

plan_step() {
    plan
    if [ -n "$note" ]; then notice "$note"; fi
    for name in mode version target repository key; do
        eval "set_output $name \"\$$name\""
    done
    _path=
    if [ -n "$dir" ]; then native_path "$dir"; fi
    set_output dir "$_path"
    native_path "$bin"
    set_output bin "$_path"
    case $mode in
    binary) echo "oci-stamp: using $bin" ;;
    release) echo "oci-stamp: release $version for $target" ;;
    source) echo "oci-stamp: built from the action's source (cache key $key)" ;;
    esac
}

# The plan step's outputs (PLAN_*, from action.yml) when they are there, else a plan made
# here. Either way sets what plan sets but key.
planned() {
    if [ -z "${PLAN_BIN:-}" ]; then
        plan
        return
    fi
    action_dir
    exe=
    if [ "${RUNNER_OS:-}" = Windows ]; then exe=.exe; fi
    mode=${PLAN_MODE:-} version=${PLAN_VERSION:-} target=${PLAN_TARGET:-}
    repository=${PLAN_REPOSITORY:-} dir='' note=''
    case $mode in
    binary | release | source) ;;
    *) die "PLAN_MODE: expected binary, release or source from the plan step, got \`$mode\`" ;;
    esac
    shell_path "$PLAN_BIN"
    bin=$_path
    if [ -n "${PLAN_DIR:-}" ]; then
        shell_path "$PLAN_DIR"
        dir=$_path
    fi
    # Not for the binary's environment.
    unset PLAN_MODE PLAN_VERSION PLAN_TARGET PLAN_REPOSITORY PLAN_DIR PLAN_BIN
}

# --- install ------------------------------------------------------------------------------

# curl, https only (file: for a local OCI_STAMP_RELEASE_URL), with retries.
fetch() {
    curl --proto '=https,file' --proto-redir '=https' -fsSL --retry 3 -o "$2" "$1"
}

install_release() {
    base=${OCI_STAMP_RELEASE_URL:-https://github.com/$repository/releases/download}/v$version
    case $target in *windows*) ext=zip ;; *) ext=tar.gz ;; esac
    name=oci-stamp-$version-$target
    archive=$name.$ext
    temp_dir
    work=$(mktemp -d "$temp/oci-stamp.XXXXXX")
    (
        cd "$work"
        echo "oci-stamp: downloading $base/$archive"
        fetch "$base/SHA256SUMS" SHA256SUMS || die "cannot download $base/SHA256SUMS"
        fetch "$base/$archive" "archive.$ext" || die "cannot download $base/$archive"
        want=$(awk -v f="$archive" '{ n = $2; sub(/^\*/, "", n) } n == f { print tolower($1); exit }' SHA256SUMS)
        [ -n "$want" ] || die "SHA256SUMS of v$version has no line for $archive"
        got=$(sha256 "archive.$ext")
        [ "$got" = "$want" ] || die "$archive: sha256 is $got, SHA256SUMS says $want; not installing it"
        echo "oci-stamp: sha256 $got matches SHA256SUMS"
        mkdir x
        if [ "$ext" = zip ]; then
            if command -v unzip >/dev/null 2>&1; then
                unzip -q "archive.$ext" -d x
            elif command -v 7z >/dev/null 2>&1; then
                7z x -bd -y -ox "archive.$ext" >/dev/null
            else
                powershell -NoProfile -NonInteractive -Command 'Expand-Archive -LiteralPath archive.zip -DestinationPath x'
            fi
        else
            tar -xzf "archive.$ext" -C x
        fi
        [ -f "x/$name/oci-stamp$exe" ] || die "$archive holds no $name/oci-stamp$exe"
        mkdir -p "$dir/bin"
        cp "x/$name/oci-stamp$exe" "$dir/bin/.oci-stamp$exe.$$"
        chmod +x "$dir/bin/.oci-stamp$exe.$$"
        mv -f "$dir/bin/.oci-stamp$exe.$$" "$bin"
    )
    rm -rf "$work"
}

install_source() {
    command -v cargo >/dev/null 2>&1 ||
        die "building oci-stamp from source needs cargo (install Rust first, or use a release of the action)"
    echo "oci-stamp: cargo install --locked --path $action_path"
    temp_dir
    native_path "$temp/oci-stamp-target"
    CARGO_TARGET_DIR=$_path \
        cargo install --locked --quiet --path "$action_path" --root "$dir" --force
}

install_step() {
    planned
    if [ "$mode" != binary ] && [ -f "$bin" ]; then
        echo "oci-stamp: $bin is there already"
    elif [ "$mode" = release ]; then
        install_release
    elif [ "$mode" = source ]; then
        install_source
    fi
    [ -f "$bin" ] || die "no binary at $bin"
    found=$("$bin" --version) || die "$bin --version failed"
    echo "$found"
    if [ "$mode" = release ] && [ "$found" != "oci-stamp $version" ]; then
        die "$bin is \`$found\`, not oci-stamp $version"
    fi
}

# --- run ----------------------------------------------------------------------------------

# export NAME=VALUE unless VALUE is empty (an empty OCI_STAMP_* variable is a value to clap).
export_set() {
    if [ -n "$2" ]; then export "$1=$2"; fi
}

run_step() {
    planned
    [ -f "$bin" ] || die "no oci-stamp binary at $bin (did the install step run?)"

    wd=${INPUT_WORKING_DIRECTORY:-.}
    cd "$wd" || die "input \`working-directory\`: cannot enter \`$wd\`"

    export_set OCI_STAMP_ANNOTATION "${INPUT_ANNOTATIONS:-}"
    export_set OCI_STAMP_ANNOTATION_FILE "${INPUT_ANNOTATION_FILE:-}"
    export_set OCI_STAMP_LEVEL "${INPUT_LEVELS:-}"
    export_set OCI_STAMP_LICENSES "${INPUT_LICENSES:-}"
    export_set OCI_STAMP_CREATED "${INPUT_CREATED:-}"
    export_set OCI_STAMP_NAMESPACE "${INPUT_NAMESPACE:-}"
    export_set OCI_STAMP_BAKE_TARGET "${INPUT_BAKE_TARGET:-}"
    export_set OCI_STAMP_DOCKERFILE "${INPUT_DOCKERFILE:-}"
    export_set OCI_STAMP_TARGET "${INPUT_TARGET:-}"
    export_set OCI_STAMP_BUILD_ARG "${INPUT_BUILD_ARGS:-}"
    export_set OCI_STAMP_TAG_PREFIX "${INPUT_TAG_PREFIX:-}"
    # `require` may be a comma list or one key per line.
    if [ -n "${INPUT_REQUIRE:-}" ]; then
        export OCI_STAMP_REQUIRE="$(printf '%s' "$INPUT_REQUIRE" | tr '\r\n' ',,')"
    fi
    if is_true label-schema "${INPUT_LABEL_SCHEMA:-}"; then export OCI_STAMP_LABEL_SCHEMA=true; fi
    if is_true no-detect "${INPUT_NO_DETECT:-}"; then export OCI_STAMP_NO_DETECT=true; fi
    if is_true require-clean "${INPUT_REQUIRE_CLEAN:-}"; then export OCI_STAMP_REQUIRE_CLEAN=true; fi
    if is_true resolve-base "${INPUT_RESOLVE_BASE:-}"; then export OCI_STAMP_RESOLVE_BASE=true; fi
    if is_true from-dockerfile-labels "${INPUT_FROM_DOCKERFILE_LABELS:-}"; then
        export OCI_STAMP_FROM_DOCKERFILE_LABELS=true
    fi
    export OCI_STAMP_REPO=.

    temp_dir
    work=$(mktemp -d "$temp/oci-stamp.XXXXXX")
    trap 'rm -rf "$work"' EXIT

    # One run for every output: the step's outputs on standard output, the explanation for
    # the log and the bake file written beside them, all from one collection (one
    # `created`, even with `created: now`).
    [ -n "$token" ] || new_token
    bake=$temp/oci-stamp-bake-$token.json
    native_path "$work/explain"
    explain_arg=text=$_path
    native_path "$bake"
    bake_arg=bake=$_path
    status=0
    "$bin" collect --format github --explain --write "$explain_arg" --write "$bake_arg" \
        >"$work/github" 2>"$work/stderr" || status=$?
    report "$work/stderr"
    if [ "$status" != 0 ]; then
        error "oci-stamp collect failed (exit $status); the problems are listed above"
        exit "$status"
    fi

    # The `created` the outputs hold, for the annotate and verify runs below.
    pin_created "$work/github"

    echo "::group::oci-stamp: the annotations and where they came from"
    show_untrusted "$work/explain"
    echo "::endgroup::"

    [ -n "${GITHUB_OUTPUT:-}" ] || die "GITHUB_OUTPUT is not set: run this as a step of a workflow"
    cat "$work/github" >>"$GITHUB_OUTPUT"
    native_path "$bake"
    set_output bake-file "$_path"

    run_on_targets annotate "${INPUT_ANNOTATE:-}"
    run_on_targets verify "${INPUT_VERIFY:-}"
}

# Exports OCI_STAMP_CREATED as the `created` output of a `--format github` file (read with
# the runner's rules: a `NAME<<DELIM` block's lines up to DELIM are its value), when it is a
# date-time.
pin_created() {
    _name='' _delim='' created=''
    while IFS= read -r _line; do
        if [ -n "$_delim" ]; then
            if [ "$_line" = "$_delim" ]; then
                _delim=
            elif [ "$_name" = created ]; then
                created=$_line
            fi
            continue
        fi
        case $_line in
        *'<<'*)
            _name=${_line%%'<<'*}
            _delim=${_line#*'<<'}
            ;;
        esac
    done <"$1"
    case $created in
    [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z)
        export OCI_STAMP_CREATED="$created"
        ;;
    esac
}

# `annotate` and `verify`: one target per line of the input (blank lines skipped,
# surrounding blanks trimmed), each one argument of `oci-stamp COMMAND`. verify's findings
# become annotations through `report`, so the binary prints plain lines there, not
# workflow commands.
run_on_targets() {
    _cmd=$1 _list=$2
    [ -n "$_list" ] || return 0
    [ -n "$cr" ] || cr=$(printf '\r')
    set --
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%"$cr"}
        line=${line#"${line%%[! 	]*}"}
        line=${line%"${line##*[! 	]}"}
        case $line in
        '') continue ;;
        -) die "input \`$_cmd\`: \`-\` (standard input) is not a target here" ;;
        esac
        set -- "$@" "$line"
    done <<EOF
$_list
EOF
    [ "$#" -gt 0 ] || return 0

    status=0
    if [ "$_cmd" = verify ]; then
        GITHUB_ACTIONS=false "$bin" verify -- "$@" >"$work/$_cmd" 2>"$work/stderr" || status=$?
    else
        "$bin" "$_cmd" -- "$@" >"$work/$_cmd" 2>"$work/stderr" || status=$?
    fi
    if [ -s "$work/$_cmd" ]; then show_untrusted "$work/$_cmd"; fi
    report "$work/stderr"
    if [ "$status" != 0 ]; then
        error "oci-stamp $_cmd failed (exit $status)"
        exit "$status"
    fi
}

case ${1:-} in
plan) plan_step ;;
install) install_step ;;
run) run_step ;;
*)
    echo "usage: $0 plan|install|run" >&2
    exit 2
    ;;
esac
