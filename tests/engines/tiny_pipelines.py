"""Tiny random-weight LTX-Video and Wan pipelines, built in code and saved as diffusers weight directories.

The diffusion engine loads real weights through `from_pretrained(<dir>)`; these builders give it a
directory of the same layout in a second, with models small enough to denoise 9 frames of 32x32 on a
CPU in well under a second. The configs follow diffusers' own fast tests (tests/pipelines/ltx/test_ltx.py,
tests/pipelines/wan/test_wan.py, test_wan_22_image_to_video.py). Those tests download
"hf-internal-testing/tiny-random-t5" for the text encoder and tokenizer; nothing may be downloaded here,
so the T5 encoder is built from a `T5Config` and the tokenizer is a word-level `tokenizers` model wrapped
as a `PreTrainedTokenizerFast` with T5's special tokens.
"""

from __future__ import annotations

from pathlib import Path

TEXT_DIM = 32  # T5 d_model; the transformers' caption_channels / text_dim
WORDS = " ".join(
    (
        "a cat dog bird fish red green blue sunset over the sea city at night walking running flying slow",
        "camera pan zoom forest mountain river dance monkey blurry low quality bright dark",
    )
).split()


def tiny_tokenizer(model_max_length: int = 128):  # -> PreTrainedTokenizerFast
    """A word-level T5-style tokenizer: `<pad>`=0, `</s>`=1, `<unk>`=2, `</s>` appended to every text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=model_max_length
    )


def tiny_text_encoder(umt5: bool = False):  # -> T5EncoderModel | UMT5EncoderModel
    """A 2-layer T5 encoder with d_model 32 (what both families' tiny transformers expect); UMT5 (the
    multilingual T5 with per-layer position biases) for Wan, which is what its real checkpoints use."""
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_class, model_class = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    torch.manual_seed(0)
    config = config_class(
        vocab_size=64,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return model_class(config).eval()


def build_tiny_ltx(directory: str | Path, num_layers: int = 1) -> Path:
    """An LTX-Video (0.9.x layout) weights directory: the engine's text, image and condition pipelines load
    from it. 32x32 pixels and 9 frames (8n+1) are the natural tiny request. The block caches need at least
    two transformer blocks (a first one and the rest): `num_layers=2` for their tests."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    directory = Path(directory)
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=num_layers,
        caption_channels=TEXT_DIM,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        spatio_temporal_scaling=(True, True, False, False),
        layers_per_block=(1, 1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
        # The decoder has its own config since diffusers 0.32; its defaults are the full-size 128-512 channels.
        decoder_block_out_channels=(8, 8, 8, 8),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    pipe = LTXPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=tiny_text_encoder(),
        tokenizer=tiny_tokenizer(),
    )
    pipe.save_pretrained(directory)
    return directory


def _wan_vae():
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def _wan_transformer(in_channels: int):
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=16,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )


def build_tiny_wan(directory: str | Path) -> Path:
    """A Wan 2.1 text-to-video weights directory (`WanPipeline`). 32x32 pixels (16n) and 9 frames (4n+1)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    directory = Path(directory)
    pipe = WanPipeline(
        transformer=_wan_transformer(16),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=tiny_text_encoder(umt5=True),
        tokenizer=tiny_tokenizer(512),
    )
    pipe.save_pretrained(directory)
    return directory


def build_tiny_wan_i2v(directory: str | Path) -> Path:
    """A Wan image-to-video weights directory (`WanImageToVideoPipeline`) in the Wan 2.2 A14B style: one
    transformer taking 36 channels (noise + first/last-frame condition + mask) and no CLIP image encoder,
    so first-and-last-frame keyframes work too."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline

    directory = Path(directory)
    pipe = WanImageToVideoPipeline(
        transformer=_wan_transformer(36),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=tiny_text_encoder(umt5=True),
        tokenizer=tiny_tokenizer(512),
        image_encoder=None,
        image_processor=None,
        transformer_2=None,
    )
    pipe.save_pretrained(directory)
    return directory


def tiny_gemma3():  # -> Gemma3ForConditionalGeneration
    """A 2-layer Gemma 3 with hidden size 32 (diffusers' LTX-2 tests download "hf-internal-testing/tiny-gemma3";
    this is built from a config instead). LTX-2 reads every hidden state of its text model; the vision tower
    is never run, so it is as small as a SigLIP config allows."""
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=256,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    vision = SiglipVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
    )
    torch.manual_seed(0)
    config = Gemma3Config(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        mm_tokens_per_image=4,
        image_token_index=63,
        boi_token_index=61,
        eoi_token_index=62,
    )
    return Gemma3ForConditionalGeneration(config).eval()


def build_tiny_ltx2(directory: str | Path) -> Path:
    """An LTX-2 weights directory (`LTX2Pipeline`, video and audio); the engine's text, image and condition
    pipelines load from it. Configs follow diffusers' tests/pipelines/ltx2/testing_utils.py. 32x32 pixels and
    9 frames (8n+1) are the natural tiny request."""
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    directory = Path(directory)
    text_encoder = tiny_gemma3()
    text_config = text_encoder.config.text_config
    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=text_config.hidden_size,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=text_config.hidden_size,
        text_proj_in_factor=text_config.num_hidden_layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8,),
        decoder_block_out_channels=(8,),
        layers_per_block=(1,),
        decoder_layers_per_block=(1, 1),
        spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,),
        decoder_inject_noise=(False, False),
        downsample_type=("spatial",),
        upsample_residual=(False,),
        upsample_factor=(1,),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    pipe = LTX2Pipeline(
        transformer=transformer,
        vae=vae,
        audio_vae=audio_vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(256),
        connectors=connectors,
        vocoder=vocoder,
    )
    pipe.save_pretrained(directory)
    return directory
