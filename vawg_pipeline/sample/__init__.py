"""Realistic sample force returns: clean rows, planted problems, messy files per force.

See ``vawg_pipeline.sample.generator`` for the API.
"""

from vawg_pipeline.sample import generator
from vawg_pipeline.sample.generator import *  # noqa: F403 - the package's API is the generator's

__all__ = generator.__all__
