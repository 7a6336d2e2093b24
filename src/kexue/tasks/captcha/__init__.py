"""Captcha recognition with an Xception-style network (the blog's 基于Xception的腾讯验证码识别),
on captchas drawn by the `captcha` package.

Stages: download (draws the data set) -> preprocess -> train -> evaluate.
"""

from kexue.tasks.captcha.data import download, preprocess
from kexue.tasks.captcha.evaluate import evaluate
from kexue.tasks.captcha.params import CaptchaParams as Params
from kexue.tasks.captcha.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
