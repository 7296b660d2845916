"""One configuration object per run: frozen dataclasses, named presets, JSON round trip.

A run's `Config` is saved as `config.json` in its work directory, so that the run can be resumed,
evaluated and exported without repeating its flags.

Presets:
  * ``paper``    -- the values of the ICCV 2019 paper (GSN/LRN input 384, GLFN rates 1, 6, 12, 18, APS n=5).
  * ``official`` -- the authors' released networks and test protocol (yi94code/HRSOD): GSN input 224
                    (deploy-GSN.prototxt:3-6), APS n=3 in a 1024x1024 warp (test_iccv19_demo.m:23-43),
                    inference protocol "release". The networks' structure is the release's in every preset,
                    since the paper leaves those details open (see `hrsod_tf.models.saliency_net`); the DUTS-only
                    GLFN (rates 1, 3, 5, 7) is `convert_caffe.py --glfn-variant duts`.
  * ``small``    -- a narrow VGG and small inputs: the three-stage demo trains in minutes on 2 CPU cores.
  * ``tiny``     -- for tests: seconds per stage.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field

from hrsod_tf.files import atomic_write

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the GSN, the LRN and the GLFN.

    Attributes:
        vgg_filters: channels of VGG16 blocks 1..5 (64, 128, 256, 512, 512 in VGG16).
        head_filters: output channels of each dilated 3x3 convolution on conv3_3, conv4_3, conv5_3.
        head_rates: dilation rates of the four parallel dilated convolutions of each head.
        num_classes: classes of the pixel-wise softmax (2: background, salient).
        gsn_input_size: side of the square image the GSN sees, in pixels (multiple of 16).
        lrn_input_size: side of the square patch the LRN sees (APS's D), in pixels (multiple of 16).
        lrn_guidance_binarized: the LRN rounds its guidance to {0, 1} before resizing it to 1/8 and 1/4,
            as the release's test code does (test_iccv19_demo.m:35, 89-90); the paper does not say.
        bn_epsilon: epsilon of every BatchNorm (Caffe's default 1e-5, caffe.proto:518 of the release).
        glfn_growth_rate: growth rate g of the GLFN dense block; bottlenecks have 4g maps (paper: g = 2).
        glfn_num_layers: number of (BN-ReLU-1x1 conv, BN-ReLU-3x3 conv) layers in the GLFN dense block.
            The paper does not give it; the release has 3 (deploy_GLFN_high_res.prototxt:47-395).
        glfn_transition: a BatchNorm + ReLU after the dense block, before the dilated convolutions (the
            release's conv2_blk/bn, deploy_GLFN_high_res.prototxt:398-435; the paper does not say).
        glfn_rates: dilation rates of the GLFN's four dilated 3x3 convolutions (2 maps each): paper and
            released DH model 1, 6, 12, 18; released DUTS-only model 1, 3, 5, 7.
        glfn_input_scaling: "caffe" (the release: image BGR minus the ImageNet mean, map x255,
            prepare_img1024.m and test_iccv19_demo.m:139-142) or "unit" (image scaled to [-1, 1], map
            in [0, 1]). The GLFN's inputs are RGB 0..255 and a 0..1 map either way; this is done inside.
        backbone_weights: "imagenet" (Keras downloads them), "none" (random init), or a path to a
            local ``.h5`` / ``.weights.h5`` file of `keras.applications.VGG16` weights.
    """

    vgg_filters: tuple[int, ...] = (64, 128, 256, 512, 512)
    head_filters: int = 32
    head_rates: tuple[int, ...] = (1, 3, 5, 7)
    num_classes: int = 2
    gsn_input_size: int = 384
    lrn_input_size: int = 384
    lrn_guidance_binarized: bool = True
    bn_epsilon: float = 1e-5
    glfn_growth_rate: int = 2
    glfn_num_layers: int = 3
    glfn_transition: bool = True
    glfn_rates: tuple[int, ...] = (1, 6, 12, 18)
    glfn_input_scaling: str = "caffe"
    backbone_weights: str = "none"

    def __post_init__(self):
        if len(self.vgg_filters) != 5:
            raise ValueError(f"vgg_filters needs 5 entries (VGG16 blocks 1..5), got {self.vgg_filters}")
        for name in ("gsn_input_size", "lrn_input_size"):
            size = getattr(self, name)
            if size % 16:
                raise ValueError(f"{name}={size} must be a multiple of 16 (conv5_3 is at 1/16 scale)")
        if self.glfn_input_scaling not in ("caffe", "unit"):
            raise ValueError(f"glfn_input_scaling {self.glfn_input_scaling!r} is not one of caffe, unit")
        if self.glfn_num_layers < 0 or len(self.glfn_rates) < 1:
            raise ValueError("glfn_num_layers must be >= 0 and glfn_rates must hold at least one rate")


@dataclass(frozen=True)
class APSConfig:
    """Attended Patch Sampling (Algorithm 1 of the paper) and its inference counterpart.

    Attributes:
        patch_size: base crop size D, in full-resolution pixels.
        extra_columns: n in N_x = ceil(w / D) + n (more columns, more overlap).
        t1, t2: a pixel is uncertain when t1 < 255 * F < t2 (F = upsampled GSN map in [0, 1]).
        size_jitter: r is uniform in [-size_jitter * D, size_jitter * D] (paper: 1/6).
        centres_per_column: J, the patch centres picked per column during training.
        attention_size: if set, the uncertain region is measured on a resize of F to this square size
            (the authors' code uses 1024); None measures it on F at full resolution.
        max_patches: upper bound on the patches of one image at inference (bounds time and memory).
    """

    patch_size: int = 384
    extra_columns: int = 5
    t1: float = 50.0
    t2: float = 200.0
    size_jitter: float = 1.0 / 6.0
    centres_per_column: int = 2
    attention_size: int | None = None
    max_patches: int = 64


@dataclass(frozen=True)
class StageConfig:
    """Training of one stage (GSN, LRN or GLFN).

    Attributes:
        input_size: side of the square training inputs, in pixels.
        batch_size: global batch size (split across replicas).
        steps: optimisation steps of the stage.
        backbone_lr: learning rate of the pretrained VGG layers (paper: 1e-3).
        head_lr: learning rate of the newly added layers (paper: 1e-2).
        momentum: SGD momentum (paper: 0.9).
        weight_decay: L2 coefficient on the kernels, added to the gradient as Caffe does (paper: 5e-4).
        lr_schedule: "poly" (lr * (1 - step/steps) ** 0.9, as DeepLab-era Caffe solvers) or "constant".
        warmup_steps: linear warm-up steps at the start of the stage.
        checkpoint_every: steps between checkpoints.
        keep_checkpoints: how many of the latest checkpoints to keep (the best is kept apart).
        validate_every: steps between validations (0: only at the end).
        patches_per_image: LRN only: cap on the APS patches taken from one image per pass.
        input_mode: GLFN only: "warp" resizes whole images to input_size (the paper: "warped into
            1024 x 1024"; every preset); "crop" takes random input_size crops at full resolution, the scale
            the GLFN runs at. No preset uses crops: with the paper's batch of 2, a GLFN trained on them greys
            objects (`benchmarks/glfn_training_input.py`; docs/BENCHMARKS.md, "GLFN training input: whole
            images warped vs full-resolution crops"), most likely because most crops are background only, so
            its BatchNorms' batch statistics swing from batch to batch.
    """

    input_size: int = 384
    batch_size: int = 32
    steps: int = 20000
    backbone_lr: float = 1e-3
    head_lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_schedule: str = "poly"
    warmup_steps: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    validate_every: int = 1000
    patches_per_image: int = 16
    input_mode: str = "warp"

    def __post_init__(self):
        if self.input_mode not in ("warp", "crop"):
            raise ValueError(f"input_mode {self.input_mode!r} is not one of warp, crop")


@dataclass(frozen=True)
class TrainConfig:
    """Training of all three stages, plus what they share."""

    gsn: StageConfig = field(default_factory=StageConfig)
    lrn: StageConfig = field(default_factory=StageConfig)
    glfn: StageConfig = field(
        default_factory=lambda: StageConfig(input_size=1024, batch_size=2, backbone_lr=1e-2)
    )
    precision: str = "auto"
    seed: int = 0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")

    def stage(self, name: str) -> StageConfig:
        if name == "rps_lrn":  # the RPS ablation trains its LRN as the LRN is trained (only the patches differ)
            name = "lrn"
        if name not in ("gsn", "lrn", "glfn"):
            raise ValueError(f"unknown stage {name!r}: expected gsn, lrn or glfn")
        return getattr(self, name)


RELEASE_OPT_HELP = ("the authors' test script's `opt` for a run of protocol release (the official preset): 1 refines "
                    "in a 1024x1024 warp (their HRSOD setting), 0 at the image's resolution (their DAVIS-S setting); "
                    "default: the run's config")  # predict.py, evaluate.py and export.py's --release-opt


@dataclass(frozen=True)
class InferenceConfig:
    """The any-resolution pipeline GSN -> APS -> LRN -> fuse -> GLFN.

    Attributes:
        lrn_batch_size: LRN patches run together (bounds memory whatever the patch count).
        glfn_tile_size: side of the GLFN tiles (without margin) when an image exceeds the budget.
        glfn_max_pixels: images with more pixels than this run the GLFN in tiles.
        max_image_pixels: larger images are refused (the serving guard), in pixels.
        protocol: "full_resolution" (GSN map upsampled to the image, APS, LRN and GLFN at the image's own
            resolution) or "release" (the authors' test script, test_iccv19_demo.m, with MATLAB's resizes; see
            `hrsod_tf.pipeline.release`).
        release_opt: with protocol "release", the script's `opt` (init_iccv19_demo.m:11): 1 (the authors' setting
            for HRSOD) refines in a 1024x1024 warp of the image; 0 (their setting for DAVIS-S) at the image's own
            resolution, with the GLFN on a 1024x1024 (or 384x384) warp.
        patch_budget: the most patches the LRN refines per image (None: every patch APS places, the paper's
            behaviour). With a budget APS keeps the patches with the most uncertain pixels (`hrsod_tf.aps.
            keep_most_uncertain_boxes_tf`); the named levels of `hrsod_tf.quality` set it.
        release_mode: with protocol "release", the script's `mode` (init_iccv19_demo.m:9): "high_res" (mode = 1:
            APS patches of 384 refined by the LRN, the GLFN at 1024) or "low_res" (mode = 0: the LRN refines the
            whole frame as one 384x384 patch, the GLFN at 384).
    """

    lrn_batch_size: int = 8
    glfn_tile_size: int = 1024
    glfn_max_pixels: int = 2048 * 2048
    max_image_pixels: int = 50_000_000
    protocol: str = "full_resolution"
    release_mode: str = "high_res"
    release_opt: int = 1
    patch_budget: int | None = None

    def __post_init__(self):
        if self.patch_budget is not None and self.patch_budget < 0:
            raise ValueError(f"patch_budget {self.patch_budget!r} is negative (None: every patch APS places)")
        if self.protocol not in ("full_resolution", "release"):
            raise ValueError(f"protocol {self.protocol!r} is not one of full_resolution, release")
        if self.release_mode not in ("high_res", "low_res"):
            raise ValueError(f"release_mode {self.release_mode!r} is not one of high_res, low_res")
        if self.release_opt not in (0, 1):
            raise ValueError(f"release_opt {self.release_opt!r} is not 0 or 1 (the test script's `opt`)")


@dataclass(frozen=True)
class DataConfig:
    """The built-in synthetic data set (see `hrsod_tf.data.synthetic`; the named sets: `hrsod_tf.data.synthetic_sets`).

    Attributes:
        synthetic_train_size / synthetic_test_size: number of generated scenes per split.
        synthetic_min_side / synthetic_max_side: the range of the shortest image edge, in pixels.
        synthetic_scene_style: "classic" (saturated objects on muted backgrounds) or "photo" (the same scenes with
            camouflage, saturated clutter, shadows, soft boundaries and occluders; `hrsod_tf.data.synthetic_photo`).
        synthetic_first_scene: the index of each split's first scene (a scene's seed is its split and index):
            sets that start far apart share no scene, as the low-resolution sets and the high-resolution ones.
    """

    synthetic_train_size: int = 300
    synthetic_test_size: int = 60
    synthetic_min_side: int = 1200
    synthetic_max_side: int = 2048
    synthetic_scene_style: str = "classic"
    synthetic_first_scene: int = 0

    def __post_init__(self):
        if self.synthetic_scene_style not in ("classic", "photo"):
            raise ValueError(f"synthetic_scene_style {self.synthetic_scene_style!r} is not one of classic, photo")
        if self.synthetic_first_scene < 0:
            raise ValueError(f"synthetic_first_scene {self.synthetic_first_scene} is negative: indices start at 0")


@dataclass(frozen=True)
class Config:
    """Everything one run needs; saved as JSON next to its checkpoints."""

    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    aps: APSConfig = field(default_factory=APSConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def replace(self, **changes) -> "Config":
        """Returns a copy with top-level fields replaced (use `dataclasses.replace` for nested ones)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        return _from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike) -> None:
        """Writes the config to `path` atomically (a crash never leaves half a file)."""
        atomic_write(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Config":
        """Reads a config.json; any problem with it is a `ConfigError` naming the file, in one line."""
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_json(f.read())
        except (ValueError, RecursionError) as error:  # json.JSONDecodeError and UnicodeDecodeError included
            reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"{path} is not a valid configuration ({reason}): restore it, or delete the run's "
                              "folder and train again") from None


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and what is wrong with it."""


def _typed(value, hint, key: str):
    """`value` (from JSON) checked against the field type `hint`: tuples from lists, ints as floats; a value of
    another type raises ValueError naming `key`."""
    options = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in options:
        if value is None:
            return None
        hint = next(option for option in options if option is not type(None))
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}: expected a list, got {_short(value)}")
        return tuple(_typed(item, typing.get_args(hint)[0], f"{key}[{i}]") for i, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if hint in (int, float, str, bool) and type(value) is hint:
        if hint is float and not math.isfinite(value):
            raise ValueError(f"{key}: expected a finite number, got {value}")
        return value
    raise ValueError(f"{key}: expected {getattr(hint, '__name__', hint)}, got {_short(value)}")


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _from_dict(cls, data, prefix: str = ""):
    """Rebuilds a (nested) frozen dataclass from `dataclasses.asdict` output; rejects unknown keys and values of
    another type than the field's (ValueError naming the dotted key)."""
    if not isinstance(data, dict):
        raise ValueError(f"{prefix.rstrip('.') or cls.__name__}: expected an object of {cls.__name__} settings, "
                         f"got {_short(data)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(map(str, unknown))}; known: {sorted(names)}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = _from_dict(hint, value, f"{prefix}{name}.")
        else:
            value = _typed(value, hint, f"{prefix}{name}")
        kwargs[name] = value
    return cls(**kwargs)


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _parse_value(text: str, hint, key: str):
    """`text` (from the command line) as a value of the type `hint`; ValueError naming `key` otherwise."""
    options = typing.get_args(hint)
    if type(None) in options:  # X | None
        if text.strip().lower() in ("none", "null", ""):
            return None
        hint = next(option for option in options if option is not type(None))
    try:
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            return tuple(_parse_value(part.strip(), item, key) for part in text.split(",") if part.strip())
        if hint is bool:
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError(f"expected one of {', '.join(_TRUE + _FALSE)}")
            return text.lower() in _TRUE
        return hint(text)
    except ValueError as error:
        raise ValueError(f"--set {key}={text}: not a valid {getattr(hint, '__name__', hint)} ({error})") from None


def _apply_one(obj, path: list[str], text: str, key: str):
    """A copy of dataclass `obj` with the field at `path` set from `text`."""
    fields = {f.name: f for f in dataclasses.fields(obj)}
    name = path[0]
    if name not in fields:
        done = key[: len(key) - len(".".join(path))]
        raise ValueError(f"--set {key}: {type(obj).__name__} has no field {name!r}; known: "
                         + ", ".join(f"{done}{f}" for f in fields))
    hint = typing.get_type_hints(type(obj))[name]
    current = getattr(obj, name)
    if dataclasses.is_dataclass(hint):
        if len(path) == 1:
            raise ValueError(f"--set {key}: a group of settings; set one of its fields, e.g. {key}."
                             f"{dataclasses.fields(hint)[0].name}=...")
        return dataclasses.replace(obj, **{name: _apply_one(current, path[1:], text, key)})
    if len(path) > 1:
        raise ValueError(f"--set {key}: {'.'.join(path[:1])} is a single setting, not a group")
    return dataclasses.replace(obj, **{name: _parse_value(text, hint, key)})


def apply_settings(config: Config, settings) -> Config:
    """A copy of `config` with dotted settings applied, e.g. ``["train.gsn.steps=100", "inference.protocol=release",
    "aps.t1=40", "model.glfn_rates=1,3,5,7"]`` (the `--set` flag of the scripts).

    Values are read by the field's type (int, float, bool: true/false, tuples: comma-separated, ``none`` for an
    optional field); each dataclass checks its own values as it does for a preset. `settings` may also be a
    mapping {dotted key: value}.

    Raises:
        ValueError: a malformed setting, an unknown key (the message lists the known ones) or a bad value.
    """
    items = settings.items() if isinstance(settings, dict) else (_split_setting(s) for s in settings)
    for key, value in items:
        path = key.split(".")
        if path[0] == "preset":
            raise ValueError("--set preset=...: choose the preset with --preset")
        try:
            config = _apply_one(config, path, str(value), key)
        except ValueError as error:  # the dataclasses' own checks do not know the flag
            message = str(error) if str(error).startswith("--set") else f"--set {key}={value}: {error}"
            raise ValueError(message) from None
    return config


def _split_setting(setting: str) -> tuple[str, str]:
    key, sep, value = setting.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set {setting!r}: expected KEY=VALUE, e.g. train.gsn.steps=100")
    return key.strip(), value.strip()


def _paper() -> Config:
    return Config(preset="paper")


def _official() -> Config:
    base = _paper()
    return dataclasses.replace(
        base,
        preset="official",
        model=dataclasses.replace(base.model, gsn_input_size=224),
        aps=dataclasses.replace(base.aps, extra_columns=3, attention_size=1024),
        inference=dataclasses.replace(base.inference, protocol="release"),
        train=dataclasses.replace(
            base.train, gsn=dataclasses.replace(base.train.gsn, input_size=224)
        ),
    )


def _small() -> Config:
    """An eighth-width VGG at 192 px and scenes of 1,200-1,440 px: the whole demo (data, three stages,
    evaluation of every variant) runs in minutes on 2 CPU cores. 200 steps for the GSN and the LRN; 300 for the
    GLFN, whose validation MAE still falls from 200 to 300 steps on the photo-like scenes."""
    model = ModelConfig(
        vgg_filters=(8, 16, 32, 64, 64),
        head_filters=8,
        gsn_input_size=192,
        lrn_input_size=192,
    )
    stage = StageConfig(
        input_size=192, batch_size=8, steps=200, lr_schedule="poly", warmup_steps=20,
        checkpoint_every=100, validate_every=100, patches_per_image=8,
    )
    return Config(
        preset="small",
        model=model,
        aps=APSConfig(patch_size=192, max_patches=48),
        train=TrainConfig(
            gsn=stage,
            lrn=stage,
            # Whole images warped, as the paper, to 384 rather than 1024 (the GLFN's thin full-resolution layers
            # are slow on a CPU); not crops, which make the GLFN grey objects (see StageConfig.input_mode).
            glfn=dataclasses.replace(stage, input_size=384, batch_size=2, backbone_lr=1e-2, steps=300),
        ),
        inference=InferenceConfig(lrn_batch_size=8, glfn_tile_size=1024, glfn_max_pixels=2048 * 2048),
        data=DataConfig(synthetic_train_size=120, synthetic_test_size=24,
                        synthetic_min_side=1200, synthetic_max_side=1440),
    )


def _tiny() -> Config:
    """Seconds per stage: for tests."""
    model = ModelConfig(
        vgg_filters=(4, 8, 8, 16, 16),
        head_filters=4,
        gsn_input_size=64,
        lrn_input_size=64,
        glfn_num_layers=2,
    )
    stage = StageConfig(
        input_size=64, batch_size=4, steps=4, checkpoint_every=2, keep_checkpoints=2,
        validate_every=2, patches_per_image=4,
    )
    return Config(
        preset="tiny",
        model=model,
        aps=APSConfig(patch_size=64, max_patches=16),
        train=TrainConfig(
            gsn=stage,
            lrn=stage,
            glfn=dataclasses.replace(stage, input_size=128, batch_size=2, backbone_lr=1e-2),
        ),
        inference=InferenceConfig(lrn_batch_size=4, glfn_tile_size=128, glfn_max_pixels=256 * 256),
        data=DataConfig(synthetic_train_size=6, synthetic_test_size=3,
                        synthetic_min_side=160, synthetic_max_side=256),
    )


PRESETS = {"paper": _paper, "official": _official, "small": _small, "tiny": _tiny}


def get_preset(name: str) -> Config:
    """Returns the named preset; unknown names fail with the list of known ones."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None
