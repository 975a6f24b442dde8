#!/usr/bin/env bash
# Builds the peers' own virtualenv (Coqui TTS on CPU torch, librosa) outside the project's lock.
#
#   bash benchmarks/peers/setup_env.sh [VENV_DIR]      # default: build/peers-venv (git-ignored)
#
# Interpreter: $PEERS_PYTHON if set, else Python 3.11 (pyenv's 3.11.x, then /usr/bin/python3.11,
# then python3.11), else 3.10 the same way. Not the bare pyenv `python3.10` shim: with pyenv's
# global version at 3.11 it fails (shared/stack.md). torch comes from PyTorch's CPU index when
# it answers, else from the default index (and any local wheels pip is configured with).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${1:-$ROOT/build/peers-venv}"
REQUIREMENTS="$HERE/requirements.txt"
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

pick_python() {
    if [[ -n "${PEERS_PYTHON:-}" ]]; then
        echo "$PEERS_PYTHON"
        return
    fi
    local root=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
    fi
    for minor in 3.11 3.10; do
        if [[ -n "$root" ]]; then
            for candidate in "$root"/versions/"$minor".*/bin/python; do
                if [[ -x "$candidate" ]] && "$candidate" -c "import venv, ssl" 2>/dev/null; then
                    echo "$candidate"
                    return
                fi
            done
        fi
        for candidate in "/usr/bin/python$minor" "python$minor"; do
            if command -v "$candidate" >/dev/null 2>&1 \
                && "$candidate" -c "import venv, ssl" 2>/dev/null; then
                echo "$candidate"
                return
            fi
        done
    done
    echo "setup_env.sh: no Python 3.11 or 3.10 with venv found; set PEERS_PYTHON" >&2
    exit 1
}

PYTHON="$(pick_python)"
echo "peers env: $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)

# torch and torchaudio first (a matching pair: torchaudio's extension is built against one torch
# release): the CPU builds from PyTorch's CPU index if it answers, else the default index's
# builds, which bring their CUDA runtime wheels (nvidia-*, triton) as dependencies and run on a
# CPU all the same.
mapfile -t TORCH_PINS < <(grep -E '^(torch|torchaudio)==' "$REQUIREMENTS")
if ! "${PIP[@]}" --index-url "$TORCH_CPU_INDEX" --timeout 20 --retries 0 "${TORCH_PINS[@]}" \
    2>/dev/null; then
    echo "PyTorch's CPU index unreachable: torch from the default index"
    "${PIP[@]}" "${TORCH_PINS[@]}"
fi
# Everything else, pinned; --no-deps keeps pip from swapping torch for another build.
grep -vE '^(torch|torchaudio|triton|nvidia-[a-z0-9-]+)==' "$REQUIREMENTS" \
    | "${PIP[@]}" --no-deps -r /dev/stdin
"$VENV/bin/python" -m pip check || echo "pip check reported the above (see README caveats)"
"$VENV/bin/python" -c "import torch, TTS, librosa; print('torch', torch.__version__, \
'| coqui-tts', TTS.__version__, '| librosa', librosa.__version__)"
echo "peers env ready: $VENV/bin/python"
