"""``python -m sociallearn.models.llamacpp_serve ARGS``: llama-cpp-python's OpenAI-compatible
server (``python -m llama_cpp.server``, the same arguments), its models loaded with the in-process
backend's choice of extra buffer types (:mod:`.llamacpp_load`).

The plain server loads with llama.cpp's default, extra buffer types on, and so dies with SIGILL
at its first request on a machine that advertises AMX but cannot run it. The tests and
benchmarks that compare the ``openai`` backend against a real local server start it this way.
"""

from __future__ import annotations

import runpy


def main() -> None:
    import llama_cpp

    from sociallearn.models.llamacpp_load import default_extra_buffers, extra_buffers_set

    # Held for the server's life: it may load (or reload) its model at any request.
    with extra_buffers_set(llama_cpp, default_extra_buffers()):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
