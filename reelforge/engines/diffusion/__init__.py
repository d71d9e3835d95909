"""The `diffusion` engine: LTX-Video and Wan through Hugging Face diffusers (the optional `diffusion` extra).

Nothing here imports torch or diffusers at import time: `validate` runs in the API process, which need
not have them installed; the weights load on a worker's first task and stay resident.
"""
