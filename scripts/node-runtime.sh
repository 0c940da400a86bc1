# Puts a supported Node.js (24 LTS) first on PATH when the one on PATH is
# older than the engines floor. Source it, do not run it:
#
#   . scripts/node-runtime.sh
#
# The binary comes from the npm registry (the node-<os>-<arch> packages carry
# the official build's bin/node; `npm pack` checks the tarball against the
# registry's integrity hash) and is kept in ~/.cache/tillstream/node-v<version>:
# downloaded once, no network afterwards. npm itself is JavaScript and runs on
# whichever node comes first on PATH, so npm, npx, tsx and vitest all use it.
# A Node.js that is new enough already is left alone.

TILLSTREAM_NODE_VERSION="${TILLSTREAM_NODE_VERSION:-24.22.3}"
TILLSTREAM_NODE_MIN_MAJOR=22

tillstream_node_runtime() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge "$TILLSTREAM_NODE_MIN_MAJOR" ]; then
    return 0
  fi

  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "node-runtime: no npm package of Node.js for $(uname -s); install Node.js ${TILLSTREAM_NODE_MIN_MAJOR}+ yourself" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node-runtime: no npm package of Node.js for $(uname -m); install Node.js ${TILLSTREAM_NODE_MIN_MAJOR}+ yourself" >&2; return 1 ;;
  esac

  local home="${XDG_CACHE_HOME:-$HOME/.cache}/tillstream/node-v${TILLSTREAM_NODE_VERSION}"
  if [ ! -x "$home/bin/node" ]; then
    echo "node-runtime: Node.js $(node --version 2>/dev/null || echo '(none)') is older than ${TILLSTREAM_NODE_MIN_MAJOR}; installing ${TILLSTREAM_NODE_VERSION} from the npm registry into $home" >&2
    local tmp
    tmp="$(mktemp -d)" || return 1
    if ! (cd "$tmp" && npm pack --silent "node-${os}-${arch}@${TILLSTREAM_NODE_VERSION}" >/dev/null && tar -xzf ./*.tgz && ./package/bin/node --version >/dev/null); then
      echo "node-runtime: could not fetch node-${os}-${arch}@${TILLSTREAM_NODE_VERSION} from the npm registry" >&2
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$(dirname "$home")"
    # A rename of a complete directory: an interrupted install never leaves a half-extracted one behind.
    [ -e "$home" ] || mv "$tmp/package" "$home"
    rm -rf "$tmp"
  fi
  export PATH="$home/bin:$PATH"
  hash -r 2>/dev/null || true
  echo "node-runtime: using $(node --version) from $home" >&2
}

tillstream_node_runtime
